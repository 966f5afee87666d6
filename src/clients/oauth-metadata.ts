import { DomainError } from '../common/domain-error.js';

/** The grants an API client may have: today's client credentials, and the OpenID Provider's code and refresh. */
export const GRANT_TYPES = ['authorization_code', 'refresh_token', 'client_credentials'] as const;
export type GrantType = (typeof GRANT_TYPES)[number];

/** RFC 7591 §2 token_endpoint_auth_method values we accept; `none` is a public client (no secret, PKCE required). */
export const CLIENT_AUTH_METHODS = ['client_secret_basic', 'client_secret_post', 'none'] as const;
export type ClientAuthMethod = (typeof CLIENT_AUTH_METHODS)[number];

/** The OAuth metadata an admin registers (RFC 7591 names), as it arrives. */
export interface OAuthMetadataInput {
  redirect_uris?: string[];
  post_logout_redirect_uris?: string[];
  grant_types?: string[];
  token_endpoint_auth_method?: string;
  backchannel_logout_uri?: string;
  first_party?: boolean;
}

/** The same, with the defaults of shared/docs/http-api.md applied and the combination checked. */
export interface OAuthMetadata {
  redirectUris: string[] | null;
  postLogoutRedirectUris: string[] | null;
  grantTypes: GrantType[];
  tokenEndpointAuthMethod: ClientAuthMethod;
  backchannelLogoutUri: string | null;
  firstParty: boolean;
}

const invalid = (why: string) => new DomainError('invalid_request', why);

/**
 * A redirect URI as RFC 6749 §3.1.2 wants it: absolute, no fragment; http(s) only (custom schemes are for native
 * apps, which this service does not register yet). Registered by an admin, so loopback and private hosts are fine.
 * It is kept exactly as given: the authorization endpoint compares by exact string (RFC 9700 §4.1.3).
 */
function checkUri(value: string, field: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw invalid(`${field} must hold absolute URLs`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw invalid(`${field} must hold http or https URLs`);
  if (value.includes('#')) throw invalid(`${field} must not have a fragment (RFC 6749 §3.1.2)`);
  if (value.length > 2048) throw invalid(`${field} entries must be at most 2,048 characters`);
  return value;
}

/**
 * Applies the defaults (grant types from whether redirect URIs are given, `client_secret_basic`, not first party) and
 * refuses combinations that cannot work: a code grant without a redirect URI, refresh without the code grant, a
 * public client with the client-credentials grant (it has no secret to prove itself with, RFC 6749 §4.4).
 */
export function oauthMetadata(input: OAuthMetadataInput): OAuthMetadata {
  const redirectUris = input.redirect_uris?.length ? [...new Set(input.redirect_uris.map((u) => checkUri(u, 'redirect_uris')))] : null;
  const grantTypes = (input.grant_types ?? (redirectUris ? ['authorization_code', 'refresh_token'] : ['client_credentials'])).filter(
    (g, i, all) => all.indexOf(g) === i,
  );
  for (const g of grantTypes) {
    if (!(GRANT_TYPES as readonly string[]).includes(g)) throw invalid(`grant_types: ${g.slice(0, 64)} is not supported`);
  }
  if (!grantTypes.length) throw invalid('grant_types must not be empty');
  const method = input.token_endpoint_auth_method ?? 'client_secret_basic';
  if (!(CLIENT_AUTH_METHODS as readonly string[]).includes(method)) {
    throw invalid(`token_endpoint_auth_method must be one of ${CLIENT_AUTH_METHODS.join(', ')}`);
  }
  const code = grantTypes.includes('authorization_code');
  if (code && !redirectUris) throw invalid('the authorization_code grant needs redirect_uris');
  if (!code && redirectUris) throw invalid('redirect_uris are only for the authorization_code grant');
  if (grantTypes.includes('refresh_token') && !code) throw invalid('the refresh_token grant needs the authorization_code grant');
  if (method === 'none' && grantTypes.includes('client_credentials')) throw invalid('a public client (none) cannot use client_credentials');
  return {
    redirectUris,
    postLogoutRedirectUris: input.post_logout_redirect_uris?.length
      ? [...new Set(input.post_logout_redirect_uris.map((u) => checkUri(u, 'post_logout_redirect_uris')))]
      : null,
    grantTypes: grantTypes as GrantType[],
    tokenEndpointAuthMethod: method as ClientAuthMethod,
    backchannelLogoutUri:
      input.backchannel_logout_uri === undefined ? null : checkUri(input.backchannel_logout_uri, 'backchannel_logout_uri'),
    firstParty: input.first_party ?? false,
  };
}
