/**
 * Where the browser goes back to after sign-in. Only origins or exact URLs from ALLOWED_RETURN_URLS are honoured;
 * anything else falls back to the built-in page (RFC 9700 §4.11: no open redirectors).
 */
export const MAX_RETURN_URL_LENGTH = 2048;

export function resolveReturnTo(raw: unknown, allowed: readonly string[], publicUrl: string, fallback: string): string {
  if (typeof raw !== 'string' || raw.length === 0 || raw.length > MAX_RETURN_URL_LENGTH) return fallback;
  let url: URL;
  try {
    // Relative paths are resolved against our own URL; "//evil" and "/\evil" resolve to another host and fail below.
    url = new URL(raw, `${publicUrl}/`);
  } catch {
    return fallback;
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return fallback;
  if (url.username || url.password) return fallback;
  const withoutQuery = `${url.origin}${url.pathname}`;
  const ok = allowed.some((entry) => entry === url.origin || entry === withoutQuery);
  // The normalised URL is what is stored (link_tickets.return_to is a varchar(2048)) and sealed into the login cookie,
  // and it can be six times the raw text (é becomes %C3%A9): it is held to the same bound.
  return ok && url.href.length <= MAX_RETURN_URL_LENGTH ? url.href : fallback;
}

/** Adds query parameters to a return URL, keeping the app's own parameters and dropping any fragment. */
export function withParams(returnTo: string, params: Record<string, string>): string {
  const url = new URL(returnTo);
  url.hash = '';
  for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
  return url.href;
}
