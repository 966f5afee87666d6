import * as oidc from 'openid-client';
import { TestBrowser, type Hop } from './browser.js';
import { callApi, completeAtProvider, signInAndGetTokens } from './sign-in.js';
import { startWorld, type World } from './world.js';

/**
 * The service as an OpenID Provider with a stand-in company OP behind its sign-in page, an admin to register clients,
 * and openid-client 6 (a certified relying party) to sign people in: what the OpenID Provider's end-to-end and
 * conformance tests share.
 */

/** Where the client wants the code: nothing listens there, the test browser stops before requesting it. */
export const REDIRECT = 'http://127.0.0.1:9/app/callback';
export const OTHER_REDIRECT = 'http://127.0.0.1:9/other/callback';
export const LOGGED_OUT = 'http://127.0.0.1:9/app/logged-out';

export type RegisteredClient = { client_id: string; client_secret: string };

export interface Attempt {
  url: URL;
  state: string;
  nonce: string;
  verifier: string;
}

export async function authorizationRequest(rp: oidc.Configuration, extra: Record<string, string> = {}): Promise<Attempt> {
  const verifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const nonce = oidc.randomNonce();
  const authUrl = oidc.buildAuthorizationUrl(rp, {
    redirect_uri: REDIRECT,
    scope: 'openid profile email',
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    nonce,
    ...extra,
  });
  return { url: authUrl, state, nonce, verifier };
}

export const backAtClient = (u: string) => u.startsWith(REDIRECT) || u.startsWith(OTHER_REDIRECT);

/** The one form of a page, submitted with its hidden fields (what a browser does, by script or by the person). */
export async function submitForm(browser: TestBrowser, page: Hop, extra: Record<string, string> = {}) {
  const action = /<form[^>]*action="([^"]+)"/.exec(page.body)?.[1];
  if (!action) throw new Error(`no form on ${page.url}: ${page.body.slice(0, 300)}`);
  const form: Record<string, string> = {};
  for (const m of page.body.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)"/g)) form[m[1]] = m[2];
  return browser.request(new URL(action, page.url).href, { method: 'POST', form: { ...form, ...extra } });
}

export async function startOpenIdWorld(extraEnv: Record<string, string> = {}, opts: Parameters<typeof startWorld>[1] = {}) {
  const world: World = await startWorld({ OPENID_PROVIDER: 'true', ADMIN_EMAILS: 'root@corp.test', ...extraEnv }, opts);
  const url = world.service.url;
  world.corp.accounts.set('root', { email: 'root@corp.test', email_verified: true, name: 'Root' });
  world.corp.accounts.set('alice', { email: 'alice@corp.test', email_verified: true, name: 'Alice' });
  const adminToken = (await signInAndGetTokens(new TestBrowser(), url, 'corp', { login: 'root' })).tokens.access_token;

  async function register(body: Record<string, unknown>): Promise<RegisteredClient> {
    const res = await callApi(url, 'POST', '/admin/clients', adminToken, body);
    if (res.status !== 201) throw new Error(`client not registered: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body as RegisteredClient;
  }

  /** openid-client configured from our discovery document, for a registered client (plain http on 127.0.0.1). */
  function relyingParty(c: RegisteredClient, auth?: 'post') {
    return oidc.discovery(
      new URL(world.service.publicUrl),
      c.client_id,
      undefined,
      auth === 'post' ? oidc.ClientSecretPost(c.client_secret) : oidc.ClientSecretBasic(c.client_secret),
      { execute: [oidc.allowInsecureRequests] },
    );
  }

  /**
   * The browser's part: from the authorization URL to the client's redirect URI. When the service shows its sign-in
   * page, the person chooses the company provider and signs in there as `login`.
   */
  async function browse(browser: TestBrowser, authUrl: URL, login?: string): Promise<{ back: URL; sawSignInPage: boolean }> {
    const first = await browser.follow(authUrl.href, backAtClient);
    if (first.stoppedAt) return { back: new URL(first.stoppedAt), sawSignInPage: false };
    if (!login)
      throw new Error(`expected to get back to the client, got ${first.last.status} ${first.last.url}: ${first.last.body.slice(0, 300)}`);
    const button = /href="(\/interaction\/[^"]+\/login\/corp)"/.exec(first.last.body);
    if (!button) throw new Error(`no sign-in page: ${first.last.status} ${first.last.url} ${first.last.body.slice(0, 300)}`);
    const { result } = await completeAtProvider(browser, new URL(button[1], url).href, backAtClient, { login });
    return { back: result, sawSignInPage: true };
  }

  async function signInThroughUs(rp: oidc.Configuration, browser: TestBrowser, login?: string, extra: Record<string, string> = {}) {
    const attempt = await authorizationRequest(rp, extra);
    const { back, sawSignInPage } = await browse(browser, attempt.url, login);
    const tokens = await oidc.authorizationCodeGrant(rp, back, {
      pkceCodeVerifier: attempt.verifier,
      expectedState: attempt.state,
      expectedNonce: attempt.nonce,
      idTokenExpected: true,
    });
    return { tokens, back, attempt, sawSignInPage };
  }

  /** A raw token request, as an attacker or a misbehaving client sends it. */
  async function tokenRequest(form: Record<string, string>, c?: RegisteredClient) {
    const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
    if (c) headers.authorization = `Basic ${Buffer.from(`${c.client_id}:${c.client_secret}`).toString('base64')}`;
    const res = await fetch(`${url}/oidc/token`, { method: 'POST', headers, body: new URLSearchParams(form) });
    return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, unknown> };
  }

  return { world, url, adminToken, register, relyingParty, browse, signInThroughUs, tokenRequest };
}
export type OpenIdWorld = Awaited<ReturnType<typeof startOpenIdWorld>>;
