import { setTimeout as sleep } from 'node:timers/promises';
import type { TokenAuthMethod } from '../../../config/config.js';
import { boundedFetch, ResponseTooLargeError } from '../bounded-fetch.js';
import { MAX_PROVIDER_RESPONSE_BYTES } from '../bounded-response.js';

export interface OidcMetadata {
  issuer: string;
  authorization_endpoint: string;
  token_endpoint: string;
  jwks_uri: string;
  userinfo_endpoint?: string;
  id_token_signing_alg_values_supported?: string[];
  code_challenge_methods_supported?: string[];
  token_endpoint_auth_methods_supported?: string[];
  /** RFC 9207: the OP sends `iss` in every authorization response, so a missing one is an attack. */
  authorization_response_iss_parameter_supported?: boolean;
}

export class DiscoveryError extends Error {
  override name = 'DiscoveryError';
}

/** Metadata of the built-in demo OP, which runs in this process and uses oidc-provider's default routes. */
export function demoMetadata(issuer: string): OidcMetadata {
  return {
    issuer,
    authorization_endpoint: `${issuer}/auth`,
    token_endpoint: `${issuer}/token`,
    jwks_uri: `${issuer}/jwks`,
    userinfo_endpoint: `${issuer}/me`,
    id_token_signing_alg_values_supported: ['RS256'],
    code_challenge_methods_supported: ['S256'],
    authorization_response_iss_parameter_supported: true,
  };
}

/**
 * Fetches `/.well-known/openid-configuration` (OpenID Connect Discovery 1.0 §4), retrying with backoff, and checks
 * that the document is about the configured issuer exactly (§4.3: otherwise an impersonation is possible).
 * The document is read to at most `maxBytes` (bounded-fetch.ts): `res.json()` read whatever came until the timeout, so
 * a hostile or broken provider streaming at full speed filled memory at start-up (SECURITY.md F10). An answer past the
 * limit is a bad document, refused at once like one of another issuer: retrying would only read it again.
 */
export async function discover(
  providerId: string,
  issuer: string,
  { attempts = 4, timeoutMs = 5000, backoffMs = 500, maxBytes = MAX_PROVIDER_RESPONSE_BYTES } = {},
): Promise<OidcMetadata> {
  const url = `${issuer.replace(/\/$/, '')}/.well-known/openid-configuration`;
  const fetchBounded = boundedFetch(maxBytes);
  let lastError: unknown;
  for (let i = 0; i < attempts; i++) {
    if (i > 0) await sleep(backoffMs * 2 ** (i - 1));
    try {
      const fetched = await fetchBounded(url, { signal: AbortSignal.timeout(timeoutMs), headers: { accept: 'application/json' } });
      if (!fetched.ok) throw new Error(`HTTP ${fetched.status}`);
      return validate(providerId, issuer, (await fetched.json()) as Record<string, unknown>);
    } catch (e) {
      if (e instanceof DiscoveryError) throw e;
      if (e instanceof ResponseTooLargeError) {
        throw new DiscoveryError(`OIDC provider "${providerId}": discovery at ${url} answered with more than ${e.maxBytes} bytes`);
      }
      lastError = e;
    }
  }
  const why =
    lastError instanceof Error
      ? `${lastError.message}${lastError.cause ? ` (${String((lastError.cause as Error).message ?? lastError.cause)})` : ''}`
      : String(lastError);
  throw new DiscoveryError(`OIDC provider "${providerId}": discovery at ${url} failed after ${attempts} attempts: ${why}`);
}

function validate(providerId: string, issuer: string, doc: Record<string, unknown>): OidcMetadata {
  if (doc.issuer !== issuer) {
    throw new DiscoveryError(`OIDC provider "${providerId}": discovery says issuer ${String(doc.issuer)}, configured ${issuer}`);
  }
  for (const field of ['authorization_endpoint', 'token_endpoint', 'jwks_uri']) {
    if (typeof doc[field] !== 'string') throw new DiscoveryError(`OIDC provider "${providerId}": discovery lacks ${field}`);
  }
  return doc as unknown as OidcMetadata;
}

/**
 * How to authenticate at the token endpoint: OIDC_<ID>_TOKEN_AUTH_METHOD when set (a provider whose discovery document
 * says otherwise than it does), else from `token_endpoint_auth_methods_supported`. Discovery 1.0 §3: "If omitted, the
 * default is client_secret_basic". Both listed: client_secret_basic, which RFC 6749 §2.3.1 says every server MUST
 * support, where the form-body method "is NOT RECOMMENDED". Some providers accept only one (LemonLDAP::NG registers
 * each client with one method), so always sending client_secret_post failed there.
 */
export function tokenAuthMethod(providerId: string, forced: TokenAuthMethod | undefined, metadata: OidcMetadata): TokenAuthMethod {
  if (forced) return forced;
  const supported = metadata.token_endpoint_auth_methods_supported;
  if (!Array.isArray(supported)) return 'client_secret_basic';
  if (supported.includes('client_secret_basic')) return 'client_secret_basic';
  if (supported.includes('client_secret_post')) return 'client_secret_post';
  throw new DiscoveryError(
    `OIDC provider "${providerId}": its token endpoint accepts neither client_secret_basic nor client_secret_post ` +
      `(it lists ${supported.map(String).join(', ') || 'nothing'}); set OIDC_${providerId.toUpperCase().replace(/-/g, '_')}_TOKEN_AUTH_METHOD ` +
      'if the client is registered with one of them',
  );
}
