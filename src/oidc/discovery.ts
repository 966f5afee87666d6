import type { ResolvedConfig } from '../config/app-secret.js';
import { OIDC_SCOPES, OP_MOUNT, SCOPE_CLAIMS } from './oidc-provider.service.js';
import { INTROSPECTION_PATH, REVOCATION_PATH } from './client-tokens.controller.js';

/** RFC 7009 §2.1, RFC 7662 §2.1: clients authenticate there as at the token endpoint (client-tokens.controller.ts). */
const CLIENT_AUTH_METHODS = ['client_secret_basic', 'client_secret_post', 'none'];

/**
 * The OpenID Provider's part of our discovery document (OpenID Connect Discovery 1.0 §3; RFC 8414 §2), added to the
 * one at /.well-known/openid-configuration: issuer PUBLIC_URL, our jwks_uri, oidc-provider's endpoints under
 * OP_MOUNT, our UserInfo. A test compares it with oidc-provider's own document for what both state.
 */
export function openIdProviderMetadata(config: ResolvedConfig): Record<string, unknown> {
  const op = `${config.publicUrl}${OP_MOUNT}`;
  return {
    authorization_endpoint: `${op}/auth`,
    token_endpoint: `${op}/token`,
    userinfo_endpoint: `${op}/userinfo`,
    end_session_endpoint: `${op}/session/end`,
    scopes_supported: [...OIDC_SCOPES],
    response_types_supported: ['code'],
    response_modes_supported: ['form_post', 'fragment', 'query'],
    grant_types_supported: ['authorization_code', 'refresh_token', 'client_credentials'],
    subject_types_supported: ['public'],
    id_token_signing_alg_values_supported: [config.jwt.alg],
    token_endpoint_auth_methods_supported: CLIENT_AUTH_METHODS,
    // RFC 8414 §2: ours (client-tokens.controller.ts), for the client's own access and refresh tokens.
    revocation_endpoint: `${op}${REVOCATION_PATH}`,
    revocation_endpoint_auth_methods_supported: CLIENT_AUTH_METHODS,
    introspection_endpoint: `${op}${INTROSPECTION_PATH}`,
    // A public client cannot introspect (client-tokens.controller.ts, RFC 7662 §2.1).
    introspection_endpoint_auth_methods_supported: CLIENT_AUTH_METHODS.filter((m) => m !== 'none'),
    code_challenge_methods_supported: ['S256'],
    claims_supported: [...new Set(['sub', 'sid', 'auth_time', 'iss', ...Object.values(SCOPE_CLAIMS).flat()])],
    claims_parameter_supported: true,
    request_parameter_supported: false,
    request_uri_parameter_supported: false,
    // RFC 9207: oidc-provider adds `iss` to every authorization response.
    authorization_response_iss_parameter_supported: true,
    // Back-Channel Logout 1.0 §2.1: logout tokens to a client's registered backchannel_logout_uri, always with the
    // sid of its ID tokens (BackchannelLogoutService).
    backchannel_logout_supported: true,
    backchannel_logout_session_supported: true,
  };
}
