import type { ResolvedConfig } from '../config/app-secret.js';
import { OIDC_SCOPES, OP_MOUNT, SCOPE_CLAIMS } from './oidc-provider.service.js';

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
    token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post', 'none'],
    code_challenge_methods_supported: ['S256'],
    claims_supported: [...new Set(['sub', 'sid', 'auth_time', 'iss', ...Object.values(SCOPE_CLAIMS).flat()])],
    claims_parameter_supported: true,
    request_parameter_supported: false,
    request_uri_parameter_supported: false,
    // RFC 9207: oidc-provider adds `iss` to every authorization response.
    authorization_response_iss_parameter_supported: true,
    // Not yet (docs/openid-provider.md): said plainly rather than left for a client to guess.
    backchannel_logout_supported: false,
  };
}
