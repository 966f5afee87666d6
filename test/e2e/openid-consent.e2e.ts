import * as oidc from 'openid-client';
import { decodeJwt } from 'jose';
import { TestBrowser, formAction, hiddenField, type Hop } from '../support/browser.js';
import {
  REDIRECT,
  authorizationRequest,
  backAtClient,
  startOpenIdWorld,
  type Attempt,
  type OpenIdWorld,
  type RegisteredClient,
} from '../support/relying-party.js';
import { callApi, completeAtProvider, getJson, signInAndGetTokens } from '../support/sign-in.js';
import { startWorld, type World } from '../support/world.js';
import { ConsentsRepository } from '../../src/oidc/consents.repository.js';

/**
 * Consent for third-party clients of the OpenID Provider (issue 17, SECURITY.md O6), Keycloak's "consent required:
 * on": the page, remembered consent, prompt=none and prompt=consent, the attacks on the answer, offline_access, and
 * "Apps with access" (/me/apps, the admin's equivalent) with what revoking ends. openid-client 6 is the client; people
 * sign in at a stand-in company OP through our sign-in page.
 */
let op: OpenIdWorld;
let world: World;
let url: string;
let adminToken: string;

beforeAll(async () => {
  op = await startOpenIdWorld();
  ({ world, url, adminToken } = op);
});

afterAll(async () => {
  await world?.close();
});

afterEach(() => {
  expect(world.service.serverErrors).toEqual([]);
});

let people = 0;
/** A person of their own for each test: consent is remembered per person and client. */
function newPerson(): string {
  const login = `p${++people}`;
  world.corp.accounts.set(login, { email: `${login}@corp.test`, email_verified: true, name: `Person ${people}` });
  return login;
}

async function thirdParty(name = 'Grafana'): Promise<{ client: RegisteredClient; rp: oidc.Configuration }> {
  const client = await op.register({ name, redirect_uris: [REDIRECT] });
  return { client, rp: await op.relyingParty(client) };
}

const isConsentPage = (hop: Hop) => hop.status === 200 && hop.body.includes('/consent"') && hop.url.includes('/interaction/');

/**
 * The browser's part up to the consent page or back at the client: signs in at the company OP first when our sign-in
 * page comes (as `login`).
 */
async function untilConsent(
  browser: TestBrowser,
  attempt: Attempt,
  login?: string,
): Promise<{ back?: URL; page?: Hop; sawSignIn: boolean }> {
  let r = await browser.follow(attempt.url.href, backAtClient);
  let sawSignIn = false;
  const button = r.stoppedAt ? null : /href="(\/interaction\/[^"]+\/login\/corp)"/.exec(r.last.body);
  if (button) {
    if (!login) throw new Error('the sign-in page came, and nobody to sign in');
    sawSignIn = true;
    const start = await browser.request(new URL(button[1], url).href);
    r = await browser.follow(start.headers.get('location')!, backAtClient);
    if (!r.stoppedAt && r.last.body.includes('/login')) {
      r = await browser.follow(formAction(r.last, '/login'), backAtClient, { method: 'POST', form: { login } });
    }
  }
  if (r.stoppedAt) return { back: new URL(r.stoppedAt), sawSignIn };
  if (!isConsentPage(r.last))
    throw new Error(`neither consent nor the client: ${r.last.status} ${r.last.url} ${r.last.body.slice(0, 300)}`);
  return { page: r.last, sawSignIn };
}

/** Presses a button of the consent page (with the page's own hidden fields, plus `extra`), following to the client. */
async function answer(browser: TestBrowser, page: Hop, decision: 'allow' | 'deny', extra: Record<string, string> = {}) {
  const form = { csrf: hiddenField(page, 'csrf'), decision, ...extra };
  const r = await browser.follow(formAction(page, '/consent'), backAtClient, { method: 'POST', form });
  if (!r.stoppedAt) throw new Error(`the answer did not go back to the client: ${r.last.status} ${r.last.body.slice(0, 300)}`);
  return new URL(r.stoppedAt);
}

function exchange(rp: oidc.Configuration, back: URL, attempt: Attempt) {
  return oidc.authorizationCodeGrant(rp, back, {
    pkceCodeVerifier: attempt.verifier,
    expectedState: attempt.state,
    expectedNonce: attempt.nonce,
    idTokenExpected: true,
  });
}

/** A sign-in that consents to whatever is asked: the tokens. */
async function signInAllowing(browser: TestBrowser, rp: oidc.Configuration, login?: string, extra: Record<string, string> = {}) {
  const attempt = await authorizationRequest(rp, extra);
  const reached = await untilConsent(browser, attempt, login);
  const back = reached.page ? await answer(browser, reached.page, 'allow') : reached.back!;
  return { tokens: await exchange(rp, back, attempt), sawConsent: reached.page !== undefined, page: reached.page };
}

/** The access token of the person's own sign-in at our pages (what the account page's API calls carry). */
async function ownToken(login: string): Promise<string> {
  return (await signInAndGetTokens(new TestBrowser(), url, 'corp', { login })).tokens.access_token;
}

const scopesAt = (page: Hop) => /<ul class="rows" id="scopes">([\s\S]*?)<\/ul>/.exec(page.body)![1];

describe('the consent page', () => {
  it('O6: a third-party client’s first sign-in asks (name, host, what each scope gives); then consent is remembered, in other browsers too', async () => {
    const { client, rp } = await thirdParty('Grafana');
    const login = newPerson();
    const browser = new TestBrowser();
    const attempt = await authorizationRequest(rp);
    const { page, sawSignIn } = await untilConsent(browser, attempt, login);
    expect(sawSignIn).toBe(true);
    expect(page).toBeDefined();
    expect(page!.body).toContain('Allow Grafana to access your account?');
    expect(page!.body).toContain('127.0.0.1:9');
    expect(page!.body).toContain(new URL(url).host);
    const listed = scopesAt(page!);
    expect(listed).toContain('Your name and picture');
    expect(listed).toContain('Your email address');
    expect(listed).not.toContain('roles');
    expect(listed).not.toContain('Stay signed in');
    expect(page!.body).toMatch(/value="allow"[\s\S]*value="deny"/);
    // The form may go to us, and on (the redirects after it) to the client's redirect URI's origin, nowhere else.
    expect(page!.headers.get('content-security-policy')).toContain(`form-action 'self' ${new URL(REDIRECT).origin};`);
    expect(page!.headers.get('referrer-policy')).toBe('same-origin');
    expect(page!.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    expect(page!.headers.get('cache-control')).toBe('no-store');

    const back = await answer(browser, page!, 'allow');
    const tokens = await exchange(rp, back, attempt);
    expect(tokens.claims()).toMatchObject({ aud: client.client_id, azp: client.client_id });
    expect((await getJson(`${url}/me`, tokens.access_token)).status).toBe(200);
    expect(await oidc.fetchUserInfo(rp, tokens.access_token, tokens.claims()!.sub)).toMatchObject({
      name: expect.any(String),
      email: `${login}@corp.test`,
    });

    // Remembered: the same browser goes straight back (SSO, no page); another browser signs in, and is not asked.
    expect((await signInAllowing(browser, rp)).sawConsent).toBe(false);
    const other = await untilConsent(new TestBrowser(), await authorizationRequest(rp), login);
    expect([other.sawSignIn, other.page]).toEqual([true, undefined]);

    const audit = await callApi(url, 'GET', `/admin/audit?userId=${tokens.claims()!.sub}&type=consent_given`, adminToken);
    expect(audit.body.items).toHaveLength(1);
    expect(audit.body.items[0]).toMatchObject({
      actorId: tokens.claims()!.sub,
      details: { clientId: client.client_id, scopes: ['openid', 'profile', 'email'] },
    });
  });

  it('more scopes than consented: asked again, for the new ones only', async () => {
    const { rp } = await thirdParty('Wiki');
    const browser = new TestBrowser();
    await signInAllowing(browser, rp, newPerson(), { scope: 'openid profile' });
    const attempt = await authorizationRequest(rp, { scope: 'openid profile email roles' });
    const { page } = await untilConsent(browser, attempt);
    const listed = scopesAt(page!);
    expect(listed).toContain('Your email address');
    expect(listed).toContain('Your roles here');
    expect(listed).not.toContain('Your name and picture');
    expect(listed).not.toContain('Know who you are');
    expect(page!.body).toContain('Already allowed: Your name and picture');
    const tokens = await exchange(rp, await answer(browser, page!, 'allow'), attempt);
    expect(await oidc.fetchUserInfo(rp, tokens.access_token, tokens.claims()!.sub)).toMatchObject({ roles: ['user'] });
    // All four are consented now: no page for any of them.
    expect((await signInAllowing(browser, rp, undefined, { scope: 'openid email roles' })).sawConsent).toBe(false);
  });

  it('a claims parameter (OIDC Core §5.5): its known claims are asked, remembered, and never loop back to the page', async () => {
    const { rp } = await thirdParty();
    const browser = new TestBrowser();
    const claims = JSON.stringify({ id_token: { email: null, azp: null, address: null } });
    const { page, tokens } = await signInAllowing(browser, rp, newPerson(), { scope: 'openid', claims });
    expect(page!.body).toContain('These details of your account: email</span>');
    expect(page!.body).not.toContain('address');
    expect(tokens.claims()!.email).toEqual(expect.stringContaining('@corp.test'));
    expect((await signInAllowing(browser, rp, undefined, { scope: 'openid', claims })).sawConsent).toBe(false);
  });

  it('O6: claims asked for UserInfo with the claims parameter are on the consent page, and answered at UserInfo only once allowed', async () => {
    const { rp } = await thirdParty();
    const browser = new TestBrowser();
    const claims = JSON.stringify({ userinfo: { email: null } });
    const { page, tokens } = await signInAllowing(browser, rp, newPerson(), { scope: 'openid', claims });
    expect(page!.body).toContain('These details of your account: email</span>');
    const sub = tokens.claims()!.sub;
    expect(await oidc.fetchUserInfo(rp, tokens.access_token, sub)).toEqual({ sub, email: expect.stringContaining('@corp.test') });
    // Another third-party client the person never allowed email gets only what its own consent says.
    const other = await thirdParty();
    const { tokens: otherTokens } = await signInAllowing(new TestBrowser(), other.rp, newPerson(), { scope: 'openid' });
    expect(await oidc.fetchUserInfo(other.rp, otherTokens.access_token, otherTokens.claims()!.sub)).toEqual({
      sub: otherTokens.claims()!.sub,
    });
  });

  it('O6: Deny: access_denied at the redirect URI, with the state; nothing remembered; audited as consent_denied', async () => {
    const { client, rp } = await thirdParty();
    const browser = new TestBrowser();
    const attempt = await authorizationRequest(rp);
    const login = newPerson();
    const { page } = await untilConsent(browser, attempt, login);
    const back = await answer(browser, page!, 'deny');
    expect([back.origin + back.pathname, back.searchParams.get('error'), back.searchParams.get('state')]).toEqual([
      REDIRECT,
      'access_denied',
      attempt.state,
    ]);
    expect(back.searchParams.get('code')).toBeNull();
    expect((await untilConsent(browser, await authorizationRequest(rp))).page).toBeDefined();
    // The refusal is in the trail as an Allow would be: the person as actor, the client, what was asked, the request.
    const userId = decodeJwt(await ownToken(login)).sub;
    const audit = await callApi(url, 'GET', `/admin/audit?userId=${userId}&type=consent_denied`, adminToken);
    expect(audit.body.items).toEqual([
      expect.objectContaining({
        userId,
        actorId: userId,
        ip: expect.any(String),
        userAgent: 'test-browser/1.0',
        details: { clientId: client.client_id, scopes: ['openid', 'profile', 'email'], claims: [] },
      }),
    ]);
    expect((await callApi(url, 'GET', `/admin/audit?userId=${userId}&type=consent_given`, adminToken)).body.items).toEqual([]);
  });

  it('O6: prompt=none without consent is consent_required at the redirect URI, never a page; with consent it is silent', async () => {
    const { rp } = await thirdParty();
    const login = newPerson();
    const browser = new TestBrowser();
    // Signed in here (at our own pages), no consent to this client yet.
    const { result } = await completeAtProvider(browser, `${url}/session/login/corp`, (u) => u.includes('/session/callback'), { login });
    await browser.request(result.href);
    const attempt = await authorizationRequest(rp, { prompt: 'none' });
    const r = await browser.follow(attempt.url.href, backAtClient);
    expect(r.stoppedAt).toBeDefined();
    const back = new URL(r.stoppedAt!);
    expect([back.origin + back.pathname, back.searchParams.get('error'), back.searchParams.get('state')]).toEqual([
      REDIRECT,
      'consent_required',
      attempt.state,
    ]);
    expect(browser.history.some((h) => h.url.startsWith(`${url}/interaction/`))).toBe(false);

    await signInAllowing(browser, rp);
    expect((await signInAllowing(browser, rp, undefined, { prompt: 'none' })).sawConsent).toBe(false);
    // More scopes with prompt=none: still never a page.
    const more = await authorizationRequest(rp, { prompt: 'none', scope: 'openid roles' });
    const again = await browser.follow(more.url.href, backAtClient);
    expect(new URL(again.stoppedAt!).searchParams.get('error')).toBe('consent_required');
  });

  it('prompt=consent asks again, every time, for everything asked', async () => {
    const { rp } = await thirdParty();
    const browser = new TestBrowser();
    await signInAllowing(browser, rp, newPerson());
    for (let i = 0; i < 2; i++) {
      const { page, tokens } = await signInAllowing(browser, rp, undefined, { prompt: 'consent' });
      expect(page).toBeDefined();
      expect(scopesAt(page!)).toContain('Your name and picture');
      expect(scopesAt(page!)).toContain('Your email address');
      expect((await getJson(`${url}/me`, tokens.access_token)).status).toBe(200);
    }
  });
});

describe('O6: a third-party client cannot skip consent', () => {
  it('O6: no prompt: the page, never a code', async () => {
    const { rp } = await thirdParty();
    const browser = new TestBrowser();
    const { page, back } = await untilConsent(browser, await authorizationRequest(rp), newPerson());
    expect(back).toBeUndefined();
    expect(page).toBeDefined();
    expect(browser.history.some((h) => (h.headers.get('location') ?? '').startsWith(REDIRECT))).toBe(false);
  });

  it('O6: the interaction in another browser, a POST from another browser, without the interaction cookie, without the CSRF token or from another Origin: refused, and the person’s own Allow still works', async () => {
    const { rp } = await thirdParty();
    const browser = new TestBrowser();
    const attempt = await authorizationRequest(rp);
    const { page } = await untilConsent(browser, attempt, newPerson());
    const action = formAction(page!, '/consent');
    const csrf = hiddenField(page!, 'csrf');
    const allow = { csrf, decision: 'allow' };

    // Another browser (the attacker's, even signed in here as someone else) opening the interaction URL, or posting.
    const attacker = new TestBrowser();
    await signInAndGetTokens(attacker, url, 'corp', { login: newPerson() });
    const opened = await attacker.request(page!.url);
    expect([opened.status, opened.headers.get('location')]).toEqual([400, null]);
    const posted = await attacker.request(action, { method: 'POST', form: allow });
    expect([posted.status, posted.headers.get('location')]).toEqual([400, null]);

    // The person's browser, but a cross-site POST: SameSite=Lax keeps the interaction cookie back; the session cookie
    // here stands for a browser that would send it anyway.
    const cookies = browser.cookies('127.0.0.1');
    const interactionCookies = [...cookies.keys()].filter((n) => n.startsWith('sls_op_interaction'));
    expect(interactionCookies.length).toBeGreaterThan(0);
    const cookieHeader = [...cookies]
      .filter(([n]) => !n.startsWith('sls_op_interaction'))
      .map(([n, c]) => `${n}=${c.value}`)
      .join('; ');
    const crossSite = await fetch(action, {
      method: 'POST',
      redirect: 'manual',
      headers: { cookie: cookieHeader, 'content-type': 'application/x-www-form-urlencoded', origin: 'http://evil.example' },
      body: new URLSearchParams(allow),
    });
    expect([crossSite.status, crossSite.headers.get('location')]).toEqual([400, null]);

    // With every cookie of the person's browser: without the CSRF token, with a wrong one, with the right one only as a
    // header (the form's field is the one channel here), from another Origin.
    for (const [form, headers] of [
      [{ decision: 'allow' }, {}],
      [{ decision: 'allow', csrf: 'x'.repeat(43) }, {}],
      [{ decision: 'allow' }, { 'x-csrf-token': csrf }],
      [allow, { origin: 'http://evil.example' }],
    ] as const) {
      const res = await browser.request(action, { method: 'POST', form: { ...form }, headers: { ...headers } });
      expect([res.status, res.headers.get('location')]).toEqual([403, null]);
    }

    // None of that decided anything: the person's own answer is the one that counts.
    const tokens = await exchange(rp, await answer(browser, page!, 'allow'), attempt);
    expect((await getJson(`${url}/me`, tokens.access_token)).status).toBe(200);
  });

  it('O6: a POST with an altered scope list grants what the page asked, nothing more', async () => {
    const { client, rp } = await thirdParty();
    const login = newPerson();
    const browser = new TestBrowser();
    const attempt = await authorizationRequest(rp, { scope: 'openid profile' });
    const { page } = await untilConsent(browser, attempt, login);
    const back = await answer(browser, page!, 'allow', {
      scope: 'openid profile email roles offline_access',
      scopes: 'openid profile email roles offline_access',
      claims: 'email',
    });
    const tokens = await exchange(rp, back, attempt);
    expect(tokens.refresh_token).toBeUndefined();
    expect(await oidc.fetchUserInfo(rp, tokens.access_token, tokens.claims()!.sub)).toEqual({
      sub: tokens.claims()!.sub,
      name: expect.any(String),
    });
    const apps = await callApi(url, 'GET', '/me/apps', await ownToken(login));
    expect(apps.body).toEqual([expect.objectContaining({ clientId: client.client_id, scopes: ['openid', 'profile'], claims: [] })]);
    // Asking for email now asks again: it was never granted.
    expect((await untilConsent(browser, await authorizationRequest(rp, { scope: 'openid email' }))).page).toBeDefined();
  });

  it('O6: an Allow POST replayed after the sign-in completed is refused and issues nothing', async () => {
    const { rp } = await thirdParty();
    const browser = new TestBrowser();
    const attempt = await authorizationRequest(rp);
    const { page } = await untilConsent(browser, attempt, newPerson());
    const form = { csrf: hiddenField(page!, 'csrf'), decision: 'allow' };
    // A copy of the browser's cookies as they were when the Allow was posted (the interaction cookie included).
    const copy = new TestBrowser();
    for (const [name, c] of browser.cookies('127.0.0.1')) copy.cookies('127.0.0.1').set(name, { ...c });
    const back = await answer(browser, page!, 'allow');
    await exchange(rp, back, attempt);
    for (const replayer of [browser, copy]) {
      const res = await replayer.request(formAction(page!, '/consent'), { method: 'POST', form });
      expect([res.status, res.headers.get('location')]).toEqual([400, null]);
    }
  });
});

describe('offline_access (OIDC Core §11)', () => {
  it('O6: no refresh token for a third-party client without consent to offline_access; with prompt=consent it is asked, and then given', async () => {
    const { rp } = await thirdParty();
    const browser = new TestBrowser();
    // Without prompt=consent oidc-provider drops offline_access (§11): not on the page, no refresh token.
    const first = await signInAllowing(browser, rp, newPerson(), { scope: 'openid offline_access' });
    expect(first.sawConsent).toBe(true);
    expect(scopesAt(first.page!)).not.toContain('Stay signed in');
    expect(first.tokens.refresh_token).toBeUndefined();
    // Consented openid: a later request for offline_access without prompt=consent is silent, still without one.
    const silent = await signInAllowing(browser, rp, undefined, { scope: 'openid offline_access' });
    expect([silent.sawConsent, silent.tokens.refresh_token]).toEqual([false, undefined]);
    // Denying offline_access on the page gives nothing either.
    const denied = await authorizationRequest(rp, { scope: 'openid offline_access', prompt: 'consent' });
    const { page } = await untilConsent(browser, denied);
    expect(scopesAt(page!)).toContain('Stay signed in');
    expect((await answer(browser, page!, 'deny')).searchParams.get('error')).toBe('access_denied');
    // Allowed on the page: a refresh token, which works.
    const allowed = await signInAllowing(browser, rp, undefined, { scope: 'openid offline_access', prompt: 'consent' });
    expect(allowed.sawConsent).toBe(true);
    expect(typeof allowed.tokens.refresh_token).toBe('string');
    const refreshed = await oidc.refreshTokenGrant(rp, allowed.tokens.refresh_token!);
    expect((await getJson(`${url}/me`, refreshed.access_token)).status).toBe(200);
  });
});

describe('Apps with access', () => {
  it('O6: /me/apps lists the app; revoking it ends its access token (/me 401), its refresh token (invalid_grant), and the next sign-in asks again', async () => {
    const { client, rp } = await thirdParty('Tracker');
    const login = newPerson();
    const browser = new TestBrowser();
    const { tokens } = await signInAllowing(browser, rp, login, { scope: 'openid profile offline_access', prompt: 'consent' });
    expect(typeof tokens.refresh_token).toBe('string');
    const mine = await ownToken(login);
    const apps = await callApi(url, 'GET', '/me/apps', mine);
    expect(apps.status).toBe(200);
    expect(apps.body).toEqual([
      {
        clientId: client.client_id,
        name: 'Tracker',
        scopes: ['openid', 'profile', 'offline_access'],
        claims: [],
        firstGrantedAt: expect.any(String),
        lastGrantedAt: expect.any(String),
        lastUsedAt: expect.any(String),
      },
    ]);

    expect((await callApi(url, 'DELETE', `/me/apps/${client.client_id}`, mine)).status).toBe(204);
    expect((await getJson(`${url}/me`, tokens.access_token)).status).toBe(401);
    await expect(oidc.refreshTokenGrant(rp, tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    expect((await callApi(url, 'GET', '/me/apps', mine)).body).toEqual([]);
    expect((await callApi(url, 'DELETE', `/me/apps/${client.client_id}`, mine)).status).toBe(404);
    expect((await callApi(url, 'DELETE', `/me/apps/${encodeURIComponent('../x')}`, mine)).status).toBe(404);
    // The account page has the section (its script fills it from /me/apps).
    expect((await browser.request(`${url}/account`)).body).toContain('<h2 id="apps-title">Apps with access</h2>');
    // The next sign-in, in the same browser still signed in here, asks again; prompt=none is consent_required.
    const none = await browser.follow((await authorizationRequest(rp, { prompt: 'none' })).url.href, backAtClient);
    expect(new URL(none.stoppedAt!).searchParams.get('error')).toBe('consent_required');
    expect((await signInAllowing(browser, rp)).sawConsent).toBe(true);
    // The person's own session here was not touched.
    expect((await getJson(`${url}/me`, mine)).status).toBe(200);

    const audit = await callApi(url, 'GET', `/admin/audit?userId=${tokens.claims()!.sub}&type=consent_revoked`, adminToken);
    expect(audit.body.items[0]).toMatchObject({
      actorId: tokens.claims()!.sub,
      reason: 'revoked by the person',
      details: { clientId: client.client_id, scopes: ['openid', 'profile', 'offline_access'] },
    });
  });

  it('S4, O6: the admin’s equivalent needs the admin role, and is audited with the admin as actor; only an admin sets first_party', async () => {
    const { client, rp } = await thirdParty('Chat');
    const login = newPerson();
    const { tokens } = await signInAllowing(new TestBrowser(), rp, login);
    const userId = tokens.claims()!.sub;
    const plain = await ownToken(login);
    for (const [method, path] of [
      ['GET', `/admin/users/${userId}/apps`],
      ['DELETE', `/admin/users/${userId}/apps/${client.client_id}`],
    ] as const) {
      expect((await callApi(url, method, path)).status).toBe(401);
      expect((await callApi(url, method, path, plain)).status).toBe(403);
    }
    // Nor can anyone but an admin make a client first-party (no consent) or register one.
    const clientPath = `/admin/clients/${client.client_id}`;
    expect((await callApi(url, 'PATCH', clientPath, plain, { first_party: true })).status).toBe(403);
    expect(
      (await callApi(url, 'POST', '/admin/clients', plain, { name: 'Mine', redirect_uris: [REDIRECT], first_party: true })).status,
    ).toBe(403);
    const listed = await callApi(url, 'GET', `/admin/users/${userId}/apps`, adminToken);
    expect(listed.body).toEqual([expect.objectContaining({ clientId: client.client_id, name: 'Chat' })]);
    expect((await callApi(url, 'DELETE', `/admin/users/${userId}/apps/${client.client_id}`, adminToken)).status).toBe(204);
    expect((await getJson(`${url}/me`, tokens.access_token)).status).toBe(401);
    expect((await callApi(url, 'GET', `/admin/users/${userId}/apps`, adminToken)).body).toEqual([]);
    expect((await callApi(url, 'GET', `/admin/users/00000000-0000-4000-8000-000000000000/apps`, adminToken)).status).toBe(404);
    const admin = decodeJwt(adminToken).sub;
    const audit = await callApi(url, 'GET', `/admin/audit?userId=${userId}&type=consent_revoked`, adminToken);
    expect(audit.body.items[0]).toMatchObject({ actorId: admin, reason: 'revoked by an admin', details: { clientId: client.client_id } });
  });
});

describe('a deleted person', () => {
  it('takes their consents along (a foreign key to users, ON DELETE CASCADE)', async () => {
    const { client, rp } = await thirdParty();
    const { tokens } = await signInAllowing(new TestBrowser(), rp, newPerson());
    const userId = tokens.claims()!.sub;
    const consents = world.service.app.get(ConsentsRepository);
    expect(await consents.find(userId, client.client_id)).toBeDefined();
    expect((await callApi(url, 'DELETE', `/admin/users/${userId}`, adminToken)).status).toBe(204);
    expect(await consents.find(userId, client.client_id)).toBeUndefined();
    expect((await consents.listOf(userId)).length).toBe(0);
  });
});

describe('OpenAPI', () => {
  it('documents Apps with access and the session lists’ new fields; the consent form is not an API', async () => {
    const doc = (await getJson(`${url}/docs-json`)).body as {
      paths: Record<string, unknown>;
      components: { schemas: Record<string, any> };
    };
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining(['/me/apps', '/me/apps/{client_id}', '/admin/users/{id}/apps', '/admin/users/{id}/apps/{client_id}']),
    );
    expect(Object.keys(doc.paths).some((p) => p.startsWith('/interaction'))).toBe(false);
    expect(Object.keys(doc.components.schemas.SessionDto.properties)).toEqual(expect.arrayContaining(['browserSessionId', 'client']));
    expect(Object.keys(doc.components.schemas.AdminSessionDto.properties)).toEqual(expect.arrayContaining(['browserSessionId', 'client']));
  });
});

describe('Apps with access, concurrently', () => {
  it('O6: of concurrent revocations of one consent exactly one revokes (204, one audit row); the others find nothing (404)', async () => {
    const { client, rp } = await thirdParty('Racer');
    const login = newPerson();
    const { tokens } = await signInAllowing(new TestBrowser(), rp, login);
    const mine = await ownToken(login);
    const answers = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        i % 2
          ? callApi(url, 'DELETE', `/me/apps/${client.client_id}`, mine)
          : callApi(url, 'DELETE', `/admin/users/${tokens.claims()!.sub}/apps/${client.client_id}`, adminToken),
      ),
    );
    expect(answers.map((a) => a.status).sort()).toEqual([204, 404, 404, 404, 404, 404]);
    const audit = await callApi(url, 'GET', `/admin/audit?userId=${tokens.claims()!.sub}&type=consent_revoked`, adminToken);
    expect(audit.body.items).toHaveLength(1);
    expect((await getJson(`${url}/me`, tokens.access_token)).status).toBe(401);
  });
});

describe('session lists', () => {
  it('an app’s session carries its client and its browser session, in /me/sessions and in the admin API', async () => {
    const wiki = await thirdParty('Wiki');
    const grafana = await thirdParty('Grafana');
    const login = newPerson();
    const browser = new TestBrowser();
    const a = await signInAllowing(browser, wiki.rp, login);
    const b = await signInAllowing(browser, grafana.rp);
    const mine = await ownToken(login);
    const sessions = (await callApi(url, 'GET', '/me/sessions', mine)).body as {
      id: string;
      browserSessionId: string | null;
      client: { clientId: string; name: string } | null;
    }[];
    const sidA = decodeJwt(a.tokens.access_token).sid;
    const sidB = decodeJwt(b.tokens.access_token).sid;
    const byId = new Map(sessions.map((s) => [s.id, s]));
    expect(byId.get(sidA as string)?.client).toEqual({ clientId: wiki.client.client_id, name: 'Wiki' });
    expect(byId.get(sidB as string)?.client).toEqual({ clientId: grafana.client.client_id, name: 'Grafana' });
    // Both under the one browser session they were signed in through, which is listed too, without a client.
    const parent = byId.get(sidA as string)!.browserSessionId!;
    expect(byId.get(sidB as string)!.browserSessionId).toBe(parent);
    expect(byId.get(parent)).toMatchObject({ client: null, browserSessionId: null });
    const user = await callApi(url, 'GET', `/admin/users/${a.tokens.claims()!.sub}`, adminToken);
    expect(user.body.sessions.find((s: { id: string }) => s.id === sidA)).toMatchObject({
      browserSessionId: parent,
      client: { clientId: wiki.client.client_id, name: 'Wiki' },
    });
  });
});

describe('with the OpenID Provider off', () => {
  let plain: World;
  beforeAll(async () => {
    plain = await startWorld();
  });
  afterAll(async () => {
    await plain?.close();
  });

  it('there are no apps with access: /me/apps is 404, no session has a client, and the account page has no such section', async () => {
    const browser = new TestBrowser();
    const { tokens, me } = await signInAndGetTokens(browser, plain.service.url, 'corp', { login: 'offline-person' });
    expect((await callApi(plain.service.url, 'GET', '/me/apps', tokens.access_token)).status).toBe(404);
    expect((await callApi(plain.service.url, 'DELETE', '/me/apps/svc-x', tokens.access_token)).status).toBe(404);
    const sessions = (await callApi(plain.service.url, 'GET', '/me/sessions', tokens.access_token)).body as { client: unknown }[];
    expect(sessions.every((s) => s.client === null)).toBe(true);
    expect(me.id).toEqual(expect.any(String));
    const account = await browser.request(`${plain.service.url}/account`);
    expect(account.status).toBe(200);
    expect(account.body).not.toContain('Apps with access');
  });
});
