/**
 * The provider's own words about a failed sign-in, for its audit row: the `error` code and `error_description` of an
 * error response (RFC 6749 §4.1.2.1, §5.2; RFC 6750 §3 for UserInfo) or of a Graph API error (Facebook's `type` and
 * `message`). They say why a provider refused (a misconfigured client, a consent setting) where our own code only says
 * "provider_error".
 *
 * Both are text from outside, kept for long and read by admins: control characters become spaces, lengths are bounded,
 * and anything shaped like a token, code or secret is masked — a provider, or whoever forged the redirect, may echo one.
 */
export interface ProviderErrorDetails {
  providerError?: string;
  providerErrorDescription?: string;
}

export const MAX_PROVIDER_ERROR = 64;
export const MAX_PROVIDER_ERROR_DESCRIPTION = 256;

const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f-\u009f]+/g;
/**
 * Runs of token characters (base64, base64url, hex, JWT dots). Error codes, words and URLs in a description are short
 * or have no digits; codes, tokens and secrets are long and, being random, have digits. 40 characters is long enough
 * to mask whatever they are.
 */
const TOKEN_LIKE = /[A-Za-z0-9._~+/=-]{20,}/g;
const masked = (run: string) => (run.length >= 40 || /\d/.test(run) ? '[redacted]' : run);

function clean(value: unknown, max: number): string | undefined {
  if (typeof value !== 'string' && typeof value !== 'number') return undefined;
  // Bound before the regular expressions run, so a huge value costs nothing; then mask, then bound what is kept.
  const text = String(value)
    .slice(0, 4 * max)
    .replace(CONTROL_CHARACTERS, ' ')
    .replace(TOKEN_LIKE, masked)
    .trim();
  if (!text) return undefined;
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

function details(error: unknown, description: unknown): ProviderErrorDetails | undefined {
  const providerError = clean(error, MAX_PROVIDER_ERROR);
  const providerErrorDescription = clean(description, MAX_PROVIDER_ERROR_DESCRIPTION);
  if (providerError === undefined && providerErrorDescription === undefined) return undefined;
  return {
    ...(providerError !== undefined ? { providerError } : {}),
    ...(providerErrorDescription !== undefined ? { providerErrorDescription } : {}),
  };
}

/** A JSON error body: RFC 6749/6750 `{ error, error_description }` or Graph's `{ error: { type, code, message } }`. */
function fromBody(body: unknown): ProviderErrorDetails | undefined {
  if (typeof body !== 'string') return undefined;
  try {
    return fromObject(JSON.parse(body));
  } catch {
    return undefined;
  }
}

function fromObject(o: unknown): ProviderErrorDetails | undefined {
  if (o === null || typeof o !== 'object') return undefined;
  const { error, error_description, type, code, message } = o as Record<string, unknown>;
  if (typeof error === 'string') return details(error, error_description);
  if (error !== null && typeof error === 'object') return fromObject(error);
  // A Graph error object (also what facebookProfile throws as the cause of an error body with HTTP 200).
  if (typeof type === 'string' || (typeof code === 'number' && typeof message === 'string')) return details(type ?? code, message);
  return undefined;
}

/** What the libraries raise, and the causes we chain onto our own errors. */
function fromError(e: unknown, depth = 0): ProviderErrorDetails | undefined {
  if (e === null || typeof e !== 'object' || depth > 4) return undefined;
  const { name, code, message, oauthError, cause } = e as Record<string, unknown> & { oauthError?: { data?: unknown } };
  // passport-oauth2 / passport-openidconnect: an error response of the authorization or token endpoint.
  if ((name === 'AuthorizationError' || name === 'TokenError') && typeof code === 'string') return details(code, message);
  // passport-facebook: FacebookAuthorizationError (numeric code), FacebookTokenError and FacebookGraphAPIError (type).
  if (typeof name === 'string' && name.startsWith('Facebook')) {
    return details((e as { type?: unknown }).type ?? code, message);
  }
  // InternalOAuthError: an HTTP error whose body may still be a JSON error (e.g. UserInfo's 401, RFC 6750 §3).
  return fromBody(oauthError?.data) ?? fromObject(e) ?? fromError(cause, depth + 1);
}

/**
 * The provider's error for the audit row, from the callback's query (the authorization error response; Facebook may
 * send only `error_code` and `error_message`) or else from what the libraries raised.
 */
export function providerErrorDetails(e: unknown, query: Record<string, unknown>): ProviderErrorDetails {
  if (typeof query.error === 'string') return details(query.error, query.error_description) ?? {};
  if (typeof query.error_code === 'string') return details(query.error_code, query.error_message) ?? {};
  return fromError(e) ?? {};
}
