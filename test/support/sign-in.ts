import { TestBrowser, formAction, hiddenField } from './browser.js';

export interface SignInOptions {
  /** Username typed at the provider. */
  login?: string;
  returnTo?: string;
  codeChallenge?: string;
  /** Facebook: untick the email permission. */
  declineEmail?: boolean;
  /** Press "Cancel" at the provider. */
  cancel?: boolean;
  /** Where the service is expected to send the browser back to, when it is not returnTo (e.g. a refused returnTo). */
  backAt?: string;
}

export interface SignInResult {
  /** Where the service sent the browser back to: returnTo with `code` or `error`. */
  result: URL;
  /** The authorization request the service sent the browser to. */
  authorizeUrl: URL;
}

/** Clicks "Log in with <provider>", signs in at the stand-in, and stops when the service redirects back. */
export async function browserSignIn(
  browser: TestBrowser,
  serviceUrl: string,
  provider: string,
  opts: SignInOptions = {},
): Promise<SignInResult> {
  const returnTo = opts.returnTo ?? `${serviceUrl}/`;
  const back = new URL(opts.backAt ?? returnTo);
  const isBack = (u: string) => {
    const url = new URL(u);
    return url.origin === back.origin && url.pathname === back.pathname && (url.searchParams.has('code') || url.searchParams.has('error'));
  };
  const query = new URLSearchParams({ returnTo });
  if (opts.codeChallenge) {
    query.set('code_challenge', opts.codeChallenge);
    query.set('code_challenge_method', 'S256');
  }
  return completeAtProvider(browser, `${serviceUrl}/auth/${provider}/login?${query}`, isBack, opts);
}

/**
 * From a URL of ours that redirects to a provider (a login or a link URL): signs in at the stand-in (its login form,
 * or Facebook's dialog) and stops when the service sends the browser back (`isBack`).
 */
export async function completeAtProvider(
  browser: TestBrowser,
  startUrl: string,
  isBack: (u: string) => boolean,
  opts: SignInOptions = {},
): Promise<SignInResult> {
  const start = await browser.request(startUrl);
  const location = start.headers.get('location');
  if (start.status !== 302 || !location) throw new Error(`login did not redirect: ${start.status} ${start.body}`);
  const authorizeUrl = new URL(location);
  if (isBack(authorizeUrl.href)) return { result: authorizeUrl, authorizeUrl };
  let r = await browser.follow(authorizeUrl.href, isBack);
  if (!r.stoppedAt) {
    const page = r.last;
    if (page.url.includes('/dialog/oauth')) {
      const form: Record<string, string> = {
        request: hiddenField(page, 'request'),
        login: opts.login ?? 'someone',
        action: opts.cancel ? 'cancel' : 'continue',
      };
      if (opts.declineEmail) form.decline_email = '1';
      r = await browser.follow(formAction(page, '/dialog/confirm'), isBack, { method: 'POST', form });
    } else {
      const action = formAction(page, opts.cancel ? '/abort' : '/login');
      r = await browser.follow(action, isBack, { method: 'POST', form: { login: opts.login ?? 'someone' } });
    }
  }
  if (!r.stoppedAt) throw new Error(`sign-in did not come back: ${r.last.status} ${r.last.url} ${r.last.body.slice(0, 300)}`);
  return { result: new URL(r.stoppedAt), authorizeUrl };
}

export async function postJson(
  url: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

/** One JSON API call, with a bearer token when given; the body parsed (undefined when empty). */
export async function callApi(base: string, method: string, path: string, token?: string, body?: unknown) {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  return { status: res.status, body: (text ? JSON.parse(text) : undefined) as any };
}

export async function getJson(url: string, token?: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(url, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

/** Exchanges a one-time code at POST /auth/token. */
export function exchangeCode(serviceUrl: string, code: string, codeVerifier?: string) {
  return postJson(`${serviceUrl}/auth/token`, {
    grant_type: 'authorization_code',
    code,
    ...(codeVerifier ? { code_verifier: codeVerifier } : {}),
  });
}

/** Signs in and exchanges the code: the tokens and /me of the signed-in user. */
export async function signInAndGetTokens(browser: TestBrowser, serviceUrl: string, provider: string, opts: SignInOptions = {}) {
  const { result } = await browserSignIn(browser, serviceUrl, provider, opts);
  const code = result.searchParams.get('code');
  if (!code) throw new Error(`sign-in failed: ${result.searchParams.get('error')}: ${result.searchParams.get('error_description')}`);
  const tokens = await exchangeCode(serviceUrl, code);
  if (tokens.status !== 200) throw new Error(`token exchange failed: ${JSON.stringify(tokens.body)}`);
  const me = await getJson(`${serviceUrl}/me`, tokens.body.access_token as string);
  return { tokens: tokens.body as { access_token: string; refresh_token: string; expires_in: number }, me: me.body as Record<string, any> };
}
