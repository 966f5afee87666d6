import * as oidc from 'openid-client';
import { decodeJwt } from 'jose';
import { TestBrowser, formAction, hiddenField } from '../support/browser.js';
import {
  REDIRECT,
  authorizationRequest,
  backAtClient,
  startOpenIdWorld,
  submitForm,
  type OpenIdWorld,
  type RegisteredClient,
} from '../support/relying-party.js';
import { startService, type RunningService } from '../support/service.js';
import { callApi, signInAndGetTokens } from '../support/sign-in.js';
import type { World } from '../support/world.js';

/**
 * The OpenID Provider (issue 17) attacked: each test is a finding of a hostile review, written to fail before its fix
 * (SECURITY.md O13–O16). Paths an attacker respells, NUL bytes PostgreSQL refuses, an interaction that is gone, and
 * two codes of one grant exchanged at once. Runs on SQLite and, with TEST_DB=postgres, on PostgreSQL.
 */
let op: OpenIdWorld;
let world: World;
let url: string;
let app: RegisteredClient;
let rp: oidc.Configuration;

beforeAll(async () => {
  op = await startOpenIdWorld();
  ({ world, url } = op);
  app = await op.register({
    name: 'Wiki',
    redirect_uris: [REDIRECT],
    first_party: true,
    grant_types: ['authorization_code', 'refresh_token'],
  });
  rp = await op.relyingParty(app);
});

afterAll(async () => {
  await world?.close();
});

afterEach(() => {
  expect(world.service.serverErrors).toEqual([]);
});

const basic = (c: RegisteredClient) => `Basic ${Buffer.from(`${c.client_id}:${c.client_secret}`).toString('base64')}`;
const form = { 'content-type': 'application/x-www-form-urlencoded' };

describe('respelled paths of the rate-limited endpoints', () => {
  let limited: RunningService;

  beforeAll(async () => {
    limited = await startService({
      OPENID_PROVIDER: 'true',
      DEMO_IDP: 'true',
      RATE_LIMITS: 'on',
      RATE_LIMIT_TOKEN: '2',
      RATE_LIMIT_SIGN_IN: '2',
    });
  });

  afterAll(async () => {
    await limited?.close();
  });

  it('O13: /oidc/token/, /oidc/TOKEN, /oidc/auth/ and /oidc/AUTH are served by oidc-provider, and count in the same bucket', async () => {
    // oidc-provider's router takes a trailing slash and any letter case; each spelling must not be a fresh allowance.
    const token = (path: string) =>
      fetch(`${limited.url}${path}`, { method: 'POST', headers: form, body: 'grant_type=refresh_token&refresh_token=x' });
    const statuses = [];
    for (const path of ['/oidc/token', '/oidc/token/', '/oidc/TOKEN', '/oidc/Token/']) statuses.push((await token(path)).status);
    expect(statuses).toEqual([400, 400, 429, 429]);
    const auth = (path: string) => fetch(`${limited.url}${path}?client_id=nobody&response_type=code&scope=openid`, { redirect: 'manual' });
    const authStatuses = [];
    for (const path of ['/oidc/auth/', '/oidc/AUTH', '/oidc/auth', '/oidc/Auth/']) authStatuses.push((await auth(path)).status);
    expect(authStatuses).toEqual([400, 400, 429, 429]);
    expect(limited.serverErrors).toEqual([]);
  });
});

describe('NUL and control characters in identifiers (PostgreSQL refuses a NUL in text)', () => {
  it('O14: a code, a refresh token or a client_id with a NUL is a 4xx at the token, authorization and end-session endpoints', async () => {
    const tokenCalls = [
      { body: `grant_type=authorization_code&code=%00&redirect_uri=${encodeURIComponent(REDIRECT)}`, auth: true },
      { body: `grant_type=authorization_code&code=a%00b&redirect_uri=${encodeURIComponent(REDIRECT)}`, auth: true },
      { body: 'grant_type=refresh_token&refresh_token=%00', auth: true },
      { body: 'grant_type=refresh_token&refresh_token=x%01', auth: true },
      { body: 'grant_type=refresh_token&refresh_token=x&client_id=%00', auth: false },
      { body: 'grant_type=authorization_code&code=x&client_id=a%00&code_verifier=' + 'a'.repeat(50), auth: false },
    ];
    for (const call of tokenCalls) {
      const res = await fetch(`${url}/oidc/token`, {
        method: 'POST',
        headers: { ...form, ...(call.auth ? { authorization: basic(app) } : {}) },
        body: call.body,
      });
      expect([call.body, res.status]).toEqual([call.body, expect.any(Number)]);
      expect(res.status).toBeGreaterThanOrEqual(400);
      expect(res.status).toBeLessThan(500);
      expect(['invalid_grant', 'invalid_client', 'invalid_request']).toContain(((await res.json()) as { error: string }).error);
    }
    const attempt = await authorizationRequest(rp);
    const nulClient = new URL(attempt.url);
    nulClient.searchParams.set('client_id', 'a\u0000');
    for (const path of [
      `${nulClient.pathname}${nulClient.search}`,
      '/oidc/session/end?client_id=%00',
      '/oidc/session/end/success?client_id=%00',
    ]) {
      const res = await fetch(`${url}${path}`, { redirect: 'manual' });
      expect([path, res.status, res.headers.get('location')]).toEqual([path, 400, null]);
    }
  });
});

describe('a sign-in that is gone', () => {
  it('O15: choosing a provider on the sign-in page of an expired or unknown interaction goes back to its page, never a 5xx', async () => {
    const uid = 'a'.repeat(21);
    const res = await fetch(`${url}/interaction/${uid}/login/corp`, { redirect: 'manual' });
    expect(res.status).toBe(302);
    const to = new URL(res.headers.get('location')!);
    expect(to.origin + to.pathname).toBe(`${url}/interaction/${uid}`);
    const page = await fetch(to, { redirect: 'manual' });
    expect(page.status).toBe(400);
    expect(await page.text()).toContain('This sign-in has expired');
  });
});

describe('two codes of one grant exchanged at once', () => {
  it('O16: both exchanges answer (no 5xx), and both token sets belong to the one session of the grant, which revoking ends', async () => {
    // Two authorization requests in one browser (two tabs of the app): oidc-provider gives both codes the browser
    // session's grant for the client, whose first token starts its session of ours (sessionForGrant).
    const browser = new TestBrowser();
    const first = await authorizationRequest(rp);
    const { back: back1 } = await op.browse(browser, first.url, 'alice');
    const second = await authorizationRequest(rp);
    const { back: back2 } = await op.browse(browser, second.url);
    const exchange = (back: URL, verifier: string) =>
      fetch(`${url}/oidc/token`, {
        method: 'POST',
        headers: { ...form, authorization: basic(app) },
        body: new URLSearchParams({
          grant_type: 'authorization_code',
          code: back.searchParams.get('code')!,
          redirect_uri: REDIRECT,
          code_verifier: verifier,
        }),
      });
    const answers = await Promise.all([exchange(back1, first.verifier), exchange(back2, second.verifier)]);
    expect(answers.map((r) => r.status)).toEqual([200, 200]);
    const tokens = (await Promise.all(answers.map((r) => r.json()))) as { access_token: string; refresh_token: string }[];
    const sids = tokens.map((t) => decodeJwt(t.access_token).sid);
    expect(sids[0]).toBe(sids[1]);
    // One session, listed once: revoking the grant through either refresh token ends both token sets.
    const revoked = await fetch(`${url}/oidc/token/revocation`, {
      method: 'POST',
      headers: { ...form, authorization: basic(app) },
      body: new URLSearchParams({ token: tokens[0].refresh_token }),
    });
    expect(revoked.status).toBe(200);
    for (const t of tokens) expect((await fetch(`${url}/me`, { headers: { authorization: `Bearer ${t.access_token}` } })).status).toBe(401);
  });
});

describe('revoking an app on /me/apps while its sign-in is in flight', () => {
  it('O17: a code exchanged as its consent is revoked: whichever wins, no token of that grant works afterwards', async () => {
    const client = await op.register({ name: 'Grafana', redirect_uris: [REDIRECT] });
    const thirdRp = await op.relyingParty(client);
    const leaks: string[] = [];
    for (let round = 0; round < 12; round++) {
      const login = `racer${round}`;
      world.corp.accounts.set(login, { email: `${login}@corp.test`, email_verified: true, name: login });
      const mine = (await signInAndGetTokens(new TestBrowser(), url, 'corp', { login })).tokens.access_token;
      const browser = new TestBrowser();
      const attempt = await authorizationRequest(thirdRp);
      const first = await browser.follow(attempt.url.href, backAtClient);
      const button = /href="(\/interaction\/[^"]+\/login\/corp)"/.exec(first.last.body)!;
      const start = await browser.request(new URL(button[1], url).href);
      let r = await browser.follow(start.headers.get('location')!, backAtClient);
      if (!r.stoppedAt && r.last.body.includes('/login')) {
        r = await browser.follow(formAction(r.last, '/login'), backAtClient, { method: 'POST', form: { login } });
      }
      const allowed = await browser.follow(formAction(r.last, '/consent'), backAtClient, {
        method: 'POST',
        form: { csrf: hiddenField(r.last, 'csrf'), decision: 'allow' },
      });
      const back = new URL(allowed.stoppedAt!);
      // The exchange and the revocation at once, the revocation a little later each round, to cross the exchange.
      const exchange = fetch(`${url}/oidc/token`, {
        method: 'POST',
        headers: { ...form, authorization: basic(client) },
        body: new URLSearchParams({
          grant_type: 'authorization_code',
          code: back.searchParams.get('code')!,
          redirect_uri: REDIRECT,
          code_verifier: attempt.verifier,
        }),
      });
      const revoke = new Promise((resolve) => setTimeout(resolve, round * 2)).then(() =>
        callApi(url, 'DELETE', `/me/apps/${client.client_id}`, mine),
      );
      const [exchanged, revoked] = await Promise.all([exchange, revoke]);
      expect(revoked.status).toBe(204);
      if (exchanged.status !== 200) continue;
      const tokens = (await exchanged.json()) as { access_token: string };
      const me = await fetch(`${url}/me`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
      if (me.status !== 401) leaks.push(`round ${round}: /me ${me.status}`);
    }
    expect(leaks).toEqual([]);
  });

  it('O17: a code exchanged as an admin disables its client: whichever wins, no token of that grant works afterwards', async () => {
    const leaks: string[] = [];
    for (let round = 0; round < 8; round++) {
      const client = await op.register({ name: `Short-lived ${round}`, redirect_uris: [REDIRECT], first_party: true });
      const clientRp = await op.relyingParty(client);
      const pending = await authorizationRequest(clientRp);
      const { back } = await op.browse(new TestBrowser(), pending.url, 'alice');
      const exchange = fetch(`${url}/oidc/token`, {
        method: 'POST',
        headers: { ...form, authorization: basic(client) },
        body: new URLSearchParams({
          grant_type: 'authorization_code',
          code: back.searchParams.get('code')!,
          redirect_uri: REDIRECT,
          code_verifier: pending.verifier,
        }),
      });
      const disable = new Promise((resolve) => setTimeout(resolve, round * 2)).then(() =>
        callApi(url, 'PATCH', `/admin/clients/${client.client_id}`, op.adminToken, { disabled: true }),
      );
      const [exchanged, disabled] = await Promise.all([exchange, disable]);
      expect(disabled.status).toBe(200);
      if (exchanged.status !== 200) continue;
      const tokens = (await exchanged.json()) as { access_token: string };
      const me = await fetch(`${url}/me`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
      if (me.status !== 401) leaks.push(`round ${round}: /me ${me.status}`);
    }
    expect(leaks).toEqual([]);
  });
});

describe('signing out while an app of the same browser exchanges its code', () => {
  it('O19: the browser session ends as a second app exchanges its first code: whichever wins, that app holds no working token', async () => {
    const second = await op.register({ name: `Tracker`, redirect_uris: [REDIRECT], first_party: true });
    const secondRp = await op.relyingParty(second);
    const leaks: string[] = [];
    for (let round = 0; round < 16; round++) {
      const browser = new TestBrowser();
      const { tokens } = await op.signInThroughUs(rp, browser, 'alice');
      const pending = await authorizationRequest(secondRp);
      const { back } = await op.browse(browser, pending.url);
      // Each round one side starts a little later than the other, so the two cross at different points.
      const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
      const exchange = wait(round % 2 ? round : 0).then(() =>
        fetch(`${url}/oidc/token`, {
          method: 'POST',
          headers: { ...form, authorization: basic(second) },
          body: new URLSearchParams({
            grant_type: 'authorization_code',
            code: back.searchParams.get('code')!,
            redirect_uri: REDIRECT,
            code_verifier: pending.verifier,
          }),
        }),
      );
      // The first app's logout ends the browser session, and with it every app session signed in through it.
      const logout = wait(round % 2 ? 0 : round).then(() => callApi(url, 'POST', '/auth/logout', tokens.access_token));
      const [exchanged, loggedOut] = await Promise.all([exchange, logout]);
      expect(loggedOut.status).toBe(204);
      if (exchanged.status !== 200) continue;
      const got = (await exchanged.json()) as { access_token: string };
      const me = await fetch(`${url}/me`, { headers: { authorization: `Bearer ${got.access_token}` } });
      if (me.status !== 401) leaks.push(`round ${round}: /me ${me.status}`);
    }
    expect(leaks).toEqual([]);
  });
});

describe('signing out everywhere while an app exchanges its first code', () => {
  it('O19: DELETE /me/sessions racing a first code exchange: whichever wins, the app holds no working token', async () => {
    const third = await op.register({ name: `Calendar`, redirect_uris: [REDIRECT], first_party: true });
    const thirdRp = await op.relyingParty(third);
    const leaks: string[] = [];
    const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
    for (let round = 0; round < 16; round++) {
      const browser = new TestBrowser();
      const { tokens } = await op.signInThroughUs(rp, browser, 'alice');
      const pending = await authorizationRequest(thirdRp);
      const { back } = await op.browse(browser, pending.url);
      const exchange = wait(round % 2 ? round : 0).then(() =>
        fetch(`${url}/oidc/token`, {
          method: 'POST',
          headers: { ...form, authorization: basic(third) },
          body: new URLSearchParams({
            grant_type: 'authorization_code',
            code: back.searchParams.get('code')!,
            redirect_uri: REDIRECT,
            code_verifier: pending.verifier,
          }),
        }),
      );
      const everywhere = wait(round % 2 ? 0 : round).then(() => callApi(url, 'DELETE', '/me/sessions', tokens.access_token));
      const [exchanged, signedOut] = await Promise.all([exchange, everywhere]);
      expect(signedOut.status).toBe(200);
      if (exchanged.status !== 200) continue;
      const got = (await exchanged.json()) as { access_token: string; refresh_token: string };
      const me = await fetch(`${url}/me`, { headers: { authorization: `Bearer ${got.access_token}` } });
      const refreshed = await op.tokenRequest({ grant_type: 'refresh_token', refresh_token: got.refresh_token }, third);
      if (me.status !== 401 || refreshed.status === 200) leaks.push(`round ${round}: /me ${me.status}, refresh ${refreshed.status}`);
    }
    expect(leaks).toEqual([]);
  });
});

describe('RP-initiated logout by POST', () => {
  it('O18: a form POST at end_session (RP-Initiated Logout 1.0 §2: GET and POST) is the same request as a GET, not a 404', async () => {
    const browser = new TestBrowser();
    const { tokens } = await op.signInThroughUs(rp, browser, 'alice');
    const endpoint = `${url}/oidc/session/end`;
    const posted = await browser.request(endpoint, {
      form: { id_token_hint: tokens.id_token!, client_id: app.client_id, state: 'bye' },
      crossSite: true,
    });
    expect(posted.status).toBe(303);
    expect(posted.headers.get('cache-control')).toBe('no-store');
    // As a GET: the client's own ID token proves whose session it is, so no question, the form submits itself.
    const page = await browser.request(new URL(posted.headers.get('location')!, endpoint).href);
    expect(page.status).toBe(200);
    expect(page.body).toContain('/assets/autosubmit.js');
    const done = await submitForm(browser, page);
    expect(done.status).toBe(303);
    expect((await fetch(`${url}/me`, { headers: { authorization: `Bearer ${tokens.access_token}` } })).status).toBe(401);
    // Not a form: 400, nothing ends.
    const json = await fetch(endpoint, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}', redirect: 'manual' });
    expect([json.status, json.headers.get('location')]).toEqual([400, null]);
  });
});

describe('introspection by a public client', () => {
  /**
   * A public client (token_endpoint_auth_method none) "authenticated" at /oidc/token/introspection with its client_id
   * alone, which is public (it is in every authorization URL): anyone holding one of its tokens, a stolen one included,
   * learned whether it is live and its sub, sid, scope and exp. RFC 7662 §2.1 wants authorization "to prevent token
   * scanning attacks" and §4 authentication; Keycloak refuses public clients there. Now 401 invalid_client.
   */
  it('O10: a public client cannot introspect: client_id alone is 401 invalid_client (RFC 7662 §2.1, §4)', async () => {
    const spa = await op.register({ name: 'SPA', redirect_uris: [REDIRECT], token_endpoint_auth_method: 'none', first_party: true });
    const spaRp = await oidc.discovery(new URL(world.service.publicUrl), spa.client_id, undefined, oidc.None(), {
      execute: [oidc.allowInsecureRequests],
    });
    const { tokens } = await op.signInThroughUs(spaRp, new TestBrowser(), 'alice');
    // Anyone with the token and the (public) client_id:
    const res = await fetch(`${url}/oidc/token/introspection`, {
      method: 'POST',
      headers: form,
      body: new URLSearchParams({ token: tokens.access_token, client_id: spa.client_id }),
    });
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ error: 'invalid_client' });
  });
});
