import fc from 'fast-check';
import * as oidc from 'openid-client';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { PassThrough, type Writable } from 'node:stream';
import { DataSource } from 'typeorm';
import { AuditEvent } from '../../src/audit/audit-event.entity.js';
import { startAppleStandIn, type AppleStandIn } from '../support/apple-stand-in.js';
import { TestBrowser, formAction, type Hop } from '../support/browser.js';
import { CONSUMERS_TENANT, guidOf, msIssuer, startMicrosoftStandIn, type MicrosoftStandIn } from '../support/microsoft-stand-in.js';
import { freePort } from '../support/net.js';
import { authorizationRequest, backAtClient, REDIRECT } from '../support/relying-party.js';
import { startService, type RunningService } from '../support/service.js';
import { browserSignIn, callApi, exchangeCode, getJson } from '../support/sign-in.js';

/** Sign in with Apple and Microsoft Entra ID v2 against their stand-ins (issue 18). */
const WORK_TENANT = guidOf('tenant:contoso');

interface Setup {
  service: RunningService;
  url: string;
  apple: AppleStandIn;
  ms: MicrosoftStandIn;
  close(): Promise<void>;
}

async function startSetup(env: Record<string, string> = {}, logStream?: Writable): Promise<Setup> {
  const port = await freePort();
  const publicUrl = `http://127.0.0.1:${port}`;
  const apple = await startAppleStandIn({ redirectUri: `${publicUrl}/auth/apple/callback` });
  const ms = await startMicrosoftStandIn({
    clientId: 'ms-client',
    clientSecret: 'ms-secret',
    redirectUri: `${publicUrl}/auth/microsoft/callback`,
    tenant: WORK_TENANT,
  });
  const service = await startService({ ...apple.env(), ...ms.env(), ...env }, { port, logStream });
  return {
    service,
    url: service.url,
    apple,
    ms,
    async close() {
      await service.close();
      await apple.close();
      await ms.close();
    },
  };
}

let s: Setup;
let returnTo: string;

beforeAll(async () => {
  s = await startSetup({ ADMIN_EMAILS: 'root@corp.test', AUTO_LINK_VERIFIED_EMAIL: 'true' });
  returnTo = `${s.service.publicUrl}/app/after-sign-in`;
});

afterAll(async () => {
  await s?.close();
});

afterEach(() => {
  s.apple.tamper = undefined;
  s.ms.tamper = undefined;
  expect(s.service.serverErrors).toEqual([]);
});

const decode = (v: string) =>
  v.replace(/&(#(\d+)|#x([0-9a-f]+)|amp|quot|lt|gt|apos);/gi, (_m, _e, dec?: string, hex?: string) =>
    dec
      ? String.fromCharCode(Number(dec))
      : hex
        ? String.fromCharCode(parseInt(hex, 16))
        : { '&amp;': '&', '&quot;': '"', '&lt;': '<', '&gt;': '>', '&apos;': "'" }[_m]!,
  );

/** The page's (first) form: its action and hidden fields, as a browser would submit them. */
function formOf(page: Hop): { action: string; fields: Record<string, string> } {
  const form = /<form[^>]*method="post"[^>]*action="([^"]+)"/i.exec(page.body);
  if (!form) throw new Error(`no form on ${page.url} (${page.status}): ${page.body.slice(0, 300)}`);
  const fields: Record<string, string> = {};
  for (const m of page.body.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)"\/?>/g)) fields[decode(m[1])] = decode(m[2]);
  return { action: new URL(decode(form[1]), page.url).href, fields };
}

interface AppleRun {
  authorizeUrl: URL;
  /** Apple's form_post page and what it posts. */
  applePage: { action: string; fields: Record<string, string> };
  /** Apple's cross-site POST to our callback, and our answer: the re-posting page. */
  crossSitePost: Hop;
  repost: { action: string; fields: Record<string, string> };
  /** The same-site POST of the re-posting page. */
  resumed: Hop;
  result: URL;
}

/** Up to Apple's form_post page: login at /auth/apple/login, the stand-in's login form. */
async function untilApplePost(browser: TestBrowser, login: string, opts: { cancel?: boolean; startUrl?: string } = {}) {
  const start = await browser.request(opts.startUrl ?? `${s.url}/auth/apple/login?${new URLSearchParams({ returnTo })}`);
  expect(start.status).toBe(302);
  const authorizeUrl = new URL(start.headers.get('location')!);
  const r = await browser.follow(authorizeUrl.href);
  // Signed in at Apple already (its session in this browser): straight to the posted response.
  if (r.last.body.includes('/auth/apple/callback')) return { authorizeUrl, applePage: formOf(r.last) };
  const at = await browser.follow(formAction(r.last, opts.cancel ? '/abort' : '/login'), undefined, { method: 'POST', form: { login } });
  expect(at.last.status).toBe(opts.cancel ? 400 : 200);
  return { authorizeUrl, applePage: formOf(at.last) };
}

/** A whole Apple sign-in as a browser makes it: Apple's page posts cross-site, ours posts again same-site. */
async function appleSignIn(browser: TestBrowser, login: string, opts: { cancel?: boolean; startUrl?: string } = {}): Promise<AppleRun> {
  const { authorizeUrl, applePage } = await untilApplePost(browser, login, opts);
  const crossSitePost = await browser.request(applePage.action, { method: 'POST', form: applePage.fields, crossSite: true });
  expect(crossSitePost.status).toBe(200);
  const repost = formOf(crossSitePost);
  const resumed = await browser.request(repost.action, { method: 'POST', form: repost.fields });
  expect(resumed.status).toBe(302);
  return { authorizeUrl, applePage, crossSitePost, repost, resumed, result: new URL(resumed.headers.get('location')!) };
}

async function tokensFor(result: URL) {
  const code = result.searchParams.get('code');
  if (!code) throw new Error(`sign-in failed: ${result.searchParams.get('error')}: ${result.searchParams.get('error_description')}`);
  const tokens = await exchangeCode(s.url, code);
  expect(tokens.status).toBe(200);
  const me = await getJson(`${s.url}/me`, tokens.body.access_token as string);
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  return me.body as Record<string, any>;
}

const errorOf = (u: URL) => ({ error: u.searchParams.get('error'), code: u.searchParams.get('code') });

describe('Sign in with Apple', () => {
  it('S3, F2, F3, F8: signs in through form_post: the cross-site POST carries no Lax login cookie, our same-site re-post does', async () => {
    const browser = new TestBrowser();
    const run = await appleSignIn(browser, 'ada');
    // The authorization request: form_post, Apple's scopes, PKCE S256 and a nonce.
    const q = run.authorizeUrl.searchParams;
    expect(q.get('response_mode')).toBe('form_post');
    expect(q.get('scope')).toBe('name email');
    expect(q.get('code_challenge_method')).toBe('S256');
    expect(q.get('code_challenge')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(q.get('nonce')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(q.get('redirect_uri')).toBe(`${s.service.publicUrl}/auth/apple/callback`);
    // Apple's page posts code, state and (first time) user to our callback; no iss.
    expect(run.applePage.action).toBe(`${s.service.publicUrl}/auth/apple/callback`);
    expect(Object.keys(run.applePage.fields).sort()).toEqual(['code', 'state', 'user']);
    // The login-state cookie is SameSite=Lax: the cross-site POST went without it, the re-post with it.
    const loginCookie = (names: string[]) => names.filter((n) => n.startsWith('login_'));
    expect(loginCookie(run.crossSitePost.sentCookies)).toEqual([]);
    const resumeHop = browser.history.find((h) => h.url === run.repost.action)!;
    expect(loginCookie(resumeHop.sentCookies)).toHaveLength(1);
    // Our page posts the same fields, to us, under our CSP, without a Referer, uncached (F8).
    expect(run.repost.action).toBe(`${s.service.publicUrl}/auth/apple/callback/resume`);
    expect(run.repost.fields).toEqual(run.applePage.fields);
    expect(run.crossSitePost.headers.get('content-security-policy')).toContain("form-action 'self'");
    expect(run.crossSitePost.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(run.crossSitePost.body).toContain('/assets/autosubmit.js');
    expect(run.crossSitePost.headers.get('referrer-policy')).toBe('no-referrer');
    expect(run.crossSitePost.headers.get('cache-control')).toBe('no-store');
    expect(run.resumed.headers.get('referrer-policy')).toBe('no-referrer');
    expect(run.result.origin + run.result.pathname).toBe(returnTo);
    const me = await tokensFor(run.result);
    expect(me).toMatchObject({ name: 'First ada', email: 'ada@example.test', emailVerified: true });
    expect(me.identities).toEqual([expect.objectContaining({ provider: 'apple', subject: 'ada' })]);
  });

  it('S3, F1: the cross-site POST taken straight to the callback fails: the Lax login cookie is not on it', async () => {
    // What a callback without the re-post page would do: the state cannot be checked, the sign-in fails.
    const browser = new TestBrowser();
    const { applePage } = await untilApplePost(browser, 'bea');
    const direct = await browser.request(`${s.url}/auth/apple/callback/resume`, {
      method: 'POST',
      form: applePage.fields,
      crossSite: true,
    });
    expect(direct.sentCookies.filter((n) => n.startsWith('login_'))).toEqual([]);
    expect(direct.status).toBe(302);
    expect(errorOf(new URL(direct.headers.get('location')!))).toEqual({ error: 'invalid_state', code: null });
    // The login cookie was no Lax-relaxed one: SameSite=Lax, HttpOnly.
    const setCookie = browser.history.find((h) => h.url.includes('/auth/apple/login'))!.headers.getSetCookie();
    expect(setCookie.find((c) => c.startsWith('login_'))).toMatch(/HttpOnly.*SameSite=Lax|SameSite=Lax.*HttpOnly/);
  });

  it('F1, F6: the re-posted response is single use, and useless in another browser', async () => {
    const browser = new TestBrowser();
    const run = await appleSignIn(browser, 'cyd');
    expect(run.result.searchParams.get('code')).toBeTruthy();
    const again = await browser.request(run.repost.action, { method: 'POST', form: run.repost.fields });
    expect(errorOf(new URL(again.headers.get('location')!)).error).toBe('invalid_state');
    // F6: another browser with the same fields (its own page, its own cookies).
    const { applePage } = await untilApplePost(new TestBrowser(), 'cyd');
    const other = new TestBrowser();
    const page = await other.request(applePage.action, { method: 'POST', form: applePage.fields, crossSite: true });
    const repost = formOf(page);
    const hop = await other.request(repost.action, { method: 'POST', form: repost.fields });
    expect(errorOf(new URL(hop.headers.get('location')!))).toEqual({ error: 'invalid_state', code: null });
  });

  it('the name comes only from the first callback’s user field; a later sign-in (a signed-in browser: no CSRF token on the resumed POST) keeps it', async () => {
    // The same browser: Apple remembers the person and posts at once, without `user`.
    const browser = new TestBrowser();
    s.apple.userFields.set('dan', { name: { firstName: 'Dan', lastName: 'Brown' }, email: 'dan@example.test' });
    const first = await appleSignIn(browser, 'dan');
    expect(await tokensFor(first.result)).toMatchObject({ name: 'Dan Brown' });
    const second = await appleSignIn(browser, 'dan');
    expect(second.applePage.fields.user).toBeUndefined();
    expect(await tokensFor(second.result)).toMatchObject({ name: 'Dan Brown' });
  });

  it('never takes the email from the unsigned user field (ADMIN_EMAILS untouched)', async () => {
    s.apple.userFields.set('eve', { name: { firstName: 'Eve' }, email: 'root@corp.test' });
    const run = await appleSignIn(new TestBrowser(), 'eve');
    const me = await tokensFor(run.result);
    expect(me).toMatchObject({ name: 'Eve', email: 'eve@example.test', roles: ['user'] });
  });

  it('a forged user field (not JSON, a name that is no string, huge) is ignored, never a 5xx', async () => {
    for (const [login, user] of [
      ['fay', 'not json'],
      ['gus', JSON.stringify({ name: { firstName: { $ne: 1 }, lastName: ['x'] } })],
      ['hal', JSON.stringify({ name: { firstName: 'x'.repeat(5000) } })],
      ['ida', JSON.stringify(null)],
    ] as const) {
      s.apple.userFields.set(login, user);
      const me = await tokensFor((await appleSignIn(new TestBrowser(), login)).result);
      expect(me.name).toBeNull();
    }
  });

  it.each([
    ['"true" strings', 'true', 'false', true],
    ['booleans', true, false, true],
    ['"false"', 'false', 'false', false],
    ['false', false, false, false],
    ['something else', 'TRUE', 'false', false],
  ])('email_verified and is_private_email as %s', async (_why, verified, isPrivate, expected) => {
    const login = `v${Math.random().toString(36).slice(2, 8)}`;
    s.apple.accounts.set(login, { email: `${login}@example.test`, email_verified: verified, is_private_email: isPrivate });
    const me = await tokensFor((await appleSignIn(new TestBrowser(), login)).result);
    expect(me.emailVerified).toBe(expected);
  });

  it('I5: a private relay email is kept as Apple says and never joins an account by email, either way; an ordinary verified one does', async () => {
    // AUTO_LINK_VERIFIED_EMAIL is on. Accounts at Microsoft whose verified emails equal the Apple ones.
    for (const [login, email] of [
      ['relay-owner', 'x7q2@privaterelay.appleid.com'],
      ['plain-owner', 'jo@example.org'],
    ]) {
      s.ms.accounts.set(login, { tid: WORK_TENANT, email, xms_edov: true });
    }
    const relayOwner = await tokensFor(
      (await browserSignIn(new TestBrowser(), s.url, 'microsoft', { login: 'relay-owner', returnTo })).result,
    );
    const plainOwner = await tokensFor(
      (await browserSignIn(new TestBrowser(), s.url, 'microsoft', { login: 'plain-owner', returnTo })).result,
    );
    s.apple.accounts.set('relay', { email: 'x7q2@privaterelay.appleid.com', email_verified: 'true', is_private_email: 'true' });
    s.apple.accounts.set('plain', { email: 'jo@example.org', email_verified: true, is_private_email: false });
    const relay = await tokensFor((await appleSignIn(new TestBrowser(), 'relay')).result);
    expect(relay.id).not.toBe(relayOwner.id);
    expect(relay).toMatchObject({ email: 'x7q2@privaterelay.appleid.com', emailVerified: true });
    const plain = await tokensFor((await appleSignIn(new TestBrowser(), 'plain')).result);
    expect(plain.id).toBe(plainOwner.id);
    // The other way round: an Apple account with a relay address first, then another provider asserting it verified.
    s.apple.accounts.set('relay2', { email: 'r2z9@privaterelay.appleid.com', email_verified: true, is_private_email: true });
    const appleFirst = await tokensFor((await appleSignIn(new TestBrowser(), 'relay2')).result);
    s.ms.accounts.set('relay2-ms', { tid: WORK_TENANT, email: 'r2z9@privaterelay.appleid.com', xms_edov: true });
    const msAfter = await tokensFor((await browserSignIn(new TestBrowser(), s.url, 'microsoft', { login: 'relay2-ms', returnTo })).result);
    expect(msAfter.id).not.toBe(appleFirst.id);
  });

  it('its client secret is an ES256 JWT the stand-in verified with the team’s public key, signed once and reused', async () => {
    await tokensFor((await appleSignIn(new TestBrowser(), 'kim')).result);
    await tokensFor((await appleSignIn(new TestBrowser(), 'lou')).result);
    expect(s.apple.secretRefusals).toEqual([]);
    expect(s.apple.secretsSeen.length).toBeGreaterThanOrEqual(2);
    expect(new Set(s.apple.secretsSeen).size).toBe(1);
    const jwt = s.apple.secretsSeen[0];
    expect(decodeProtectedHeader(jwt)).toEqual({ alg: 'ES256', kid: s.apple.keyId });
    const claims = decodeJwt(jwt);
    expect(claims).toMatchObject({ iss: s.apple.teamId, sub: s.apple.clientId, aud: 'https://appleid.apple.com' });
    expect(claims.exp! - claims.iat!).toBeLessThanOrEqual(15_777_000);
    expect(claims.exp! * 1000).toBeGreaterThan(Date.now());
  });

  it('L1: a signed-in user links Apple from their own browser (the resumed POST is checked like the GET callback)', async () => {
    const browser = new TestBrowser();
    s.ms.accounts.set('linker', { tid: WORK_TENANT });
    const signedIn = await browserSignIn(browser, s.url, 'microsoft', { login: 'linker', returnTo });
    const tokens = await exchangeCode(s.url, signedIn.result.searchParams.get('code')!);
    const access = tokens.body.access_token as string;
    const link = await callApi(s.url, 'POST', '/me/identities/apple/link', access, { returnTo });
    expect(link.status).toBe(200);
    const run = await appleSignIn(browser, 'linked-apple', { startUrl: link.body.url });
    expect(run.result.searchParams.get('error')).toBeNull();
    const me = await callApi(s.url, 'GET', '/me', access);
    expect(me.body.identities.map((i: { provider: string }) => i.provider).sort()).toEqual(['apple', 'microsoft']);
    // The same link URL in a fresh browser links nothing.
    const again = await callApi(s.url, 'POST', '/me/identities/apple/link', access, { returnTo });
    const fresh = await new TestBrowser().request(again.body.url);
    expect(errorOf(new URL(fresh.headers.get('location')!))).toEqual({ error: 'not_logged_in', code: null });
  });

  it('Cancel (Apple’s user_cancelled_authorize) ends at returnTo with access_denied', async () => {
    const run = await appleSignIn(new TestBrowser(), 'max', { cancel: true });
    expect(run.applePage.fields.error).toBe('user_cancelled_authorize');
    expect(run.result.origin + run.result.pathname).toBe(returnTo);
    expect(errorOf(run.result)).toEqual({ error: 'access_denied', code: null });
  });

  it.each([
    ['I1', 'unsigned (alg none)', { signature: 'none' as const }],
    ['I1', 'signed by another key', { signature: 'other-key' as const }],
    ['I2', 'another issuer', { claims: (c: Record<string, unknown>) => ({ ...c, iss: 'https://evil.example' }) }],
    ['I2', 'another audience', { claims: (c: Record<string, unknown>) => ({ ...c, aud: 'com.other.app' }) }],
    ['I3', 'expired', { claims: (c: Record<string, unknown>) => ({ ...c, exp: Math.floor(Date.now() / 1000) - 3600 }) }],
    ['F3', 'another nonce', { claims: (c: Record<string, unknown>) => ({ ...c, nonce: 'not-this-sign-in' }) }],
  ])('%s: an ID token %s is refused (invalid_id_token at returnTo)', async (_row, _what, tamper) => {
    s.apple.tamper = tamper;
    const run = await appleSignIn(new TestBrowser(), 'ned');
    expect(run.result.origin + run.result.pathname).toBe(returnTo);
    expect(errorOf(run.result)).toEqual({ error: 'invalid_id_token', code: null });
  });

  it('F5: Apple’s response at Microsoft’s callback is refused (state bound to its provider)', async () => {
    const browser = new TestBrowser();
    const { applePage } = await untilApplePost(browser, 'oli');
    const page = await browser.request(`${s.url}/auth/microsoft/callback?${new URLSearchParams(applePage.fields)}`);
    expect(page.status).toBe(302);
    expect(errorOf(new URL(page.headers.get('location')!))).toEqual({ error: 'invalid_state', code: null });
  });

  it('hostile posts to the callback and its resumption: 4xx or an error redirect, never a 5xx', async () => {
    const browser = new TestBrowser();
    const bodies: Record<string, string>[] = [
      {},
      { code: '' },
      { code: 'x', state: 'A'.repeat(43) },
      { error: 'server_error', state: 'garbage' },
      { code: 'x', state: '<script>', user: '{"name":' },
      { id_token: 'a.b.c', code: 'x', state: 'y' },
    ];
    for (const form of bodies) {
      const page = await browser.request(`${s.url}/auth/apple/callback`, { method: 'POST', form, crossSite: true });
      expect(page.status).toBe(200);
      expect(page.body).not.toContain('<script>');
      const hop = await browser.request(`${s.url}/auth/apple/callback/resume`, { method: 'POST', form });
      expect(hop.status).toBe(302);
      expect(new URL(hop.headers.get('location')!).searchParams.get('code')).toBeNull();
    }
    // A repeated field (an array from the form parser), and a provider that does not post its response.
    const repeated = await fetch(`${s.url}/auth/apple/callback/resume`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'code=a&code=b&state=c&state=d',
      redirect: 'manual',
    });
    expect(repeated.status).toBe(302);
    const notFormPost = await browser.request(`${s.url}/auth/microsoft/callback`, { method: 'POST', form: { code: 'x' } });
    expect(notFormPost.status).toBe(404);
  });
});

describe('posted responses, fuzzed', () => {
  const field = fc.oneof(
    fc.string({ maxLength: 80 }),
    fc.constantFrom('', 'A'.repeat(43), '{"name":{"firstName":"x"}}', 'null', '__proto__', '<script>alert(1)</script>', 'a.b.c'),
  );
  const body = fc.dictionary(
    fc.constantFrom('code', 'state', 'error', 'error_description', 'iss', 'id_token', 'user', 'other', '__proto__'),
    field,
  );

  it('F1: whatever is posted to the callback and its resumption, never a 5xx and never a code', async () => {
    await fc.assert(
      fc.asyncProperty(body, fc.boolean(), async (posted, signedIn) => {
        let form = posted;
        const browser = new TestBrowser();
        // With a live login attempt of this browser (its cookie) and its real state, or none at all.
        if (signedIn) {
          const start = await browser.request(`${s.url}/auth/apple/login?${new URLSearchParams({ returnTo })}`);
          form = { ...form, state: new URL(start.headers.get('location')!).searchParams.get('state')! };
        }
        const page = await browser.request(`${s.url}/auth/apple/callback`, { method: 'POST', form, crossSite: true });
        // 400: a `__proto__` key, refused before any route (SECURITY.md, hostile inputs).
        expect([200, 400]).toContain(page.status);
        expect(page.body).not.toMatch(/<script>alert/);
        const hop = await browser.request(`${s.url}/auth/apple/callback/resume`, { method: 'POST', form });
        expect([302, 400, 413]).toContain(hop.status);
        if (hop.status === 302) expect(new URL(hop.headers.get('location')!).searchParams.get('code')).toBeNull();
      }),
      { numRuns: Number(process.env.FUZZ_RUNS ?? 60), seed: Number(process.env.FUZZ_SEED ?? 20261126) },
    );
    expect(s.service.serverErrors).toEqual([]);
  });
});

describe('Microsoft Entra ID v2', () => {
  it('F2, F3: two tenants sign in, each token carrying its own tid and issuer; the subject is <tid>:<oid>', async () => {
    s.ms.accounts.set('worker', { tid: WORK_TENANT });
    s.ms.accounts.set('home', { tid: CONSUMERS_TENANT });
    const w = await browserSignIn(new TestBrowser(), s.url, 'microsoft', { login: 'worker', returnTo });
    const q = w.authorizeUrl.searchParams;
    expect(q.get('code_challenge_method')).toBe('S256');
    expect(q.get('nonce')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(q.get('scope')).toBe('openid email profile');
    const worker = await tokensFor(w.result);
    expect(worker.identities[0]).toMatchObject({ provider: 'microsoft', subject: `${WORK_TENANT}:${guidOf('oid:worker')}` });
    const home = await tokensFor((await browserSignIn(new TestBrowser(), s.url, 'microsoft', { login: 'home', returnTo })).result);
    expect(home.identities[0]).toMatchObject({ subject: `${CONSUMERS_TENANT}:${guidOf('oid:home')}` });
    // The service read each token's issuer from its own tenant (the stand-in signs them so).
    const tokens = s.ms.tokenRequests.slice(-2);
    expect(tokens).toHaveLength(2);
  });

  it('I2: an ID token whose iss names another tenant than its tid is refused', async () => {
    s.ms.accounts.set('mixed', { tid: WORK_TENANT, issuerTenant: CONSUMERS_TENANT });
    const { result } = await browserSignIn(new TestBrowser(), s.url, 'microsoft', { login: 'mixed', returnTo });
    expect(result.origin + result.pathname).toBe(returnTo);
    expect(errorOf(result)).toEqual({ error: 'invalid_id_token', code: null });
  });

  it.each([
    ['I1', 'unsigned (alg none)', { signature: 'none' as const }],
    ['I1', 'signed by another key', { signature: 'other-key' as const }],
    ['I2', 'another audience', { claims: (c: Record<string, unknown>) => ({ ...c, aud: 'another-app' }) }],
    ['I2', 'a tid that is no tenant id', { claims: (c: Record<string, unknown>) => ({ ...c, tid: '../evil', iss: msIssuer('../evil') }) }],
    ['I2', 'the common issuer template itself', { claims: (c: Record<string, unknown>) => ({ ...c, iss: msIssuer('{tenantid}') }) }],
    ['I3', 'expired', { claims: (c: Record<string, unknown>) => ({ ...c, exp: Math.floor(Date.now() / 1000) - 3600 }) }],
    ['F3', 'another nonce', { claims: (c: Record<string, unknown>) => ({ ...c, nonce: 'not-this-sign-in' }) }],
  ])('%s: an ID token %s is refused (invalid_id_token at returnTo)', async (_row, _what, tamper) => {
    s.ms.tamper = tamper;
    const { result } = await browserSignIn(new TestBrowser(), s.url, 'microsoft', { login: 'pat', returnTo });
    expect(errorOf(result)).toEqual({ error: 'invalid_id_token', code: null });
  });

  it('an ID token without oid is the provider’s error, never an account keyed "<tid>:undefined"', async () => {
    s.ms.tamper = { claims: ({ oid: _oid, ...c }) => c };
    const { result } = await browserSignIn(new TestBrowser(), s.url, 'microsoft', { login: 'quinn', returnTo });
    expect(errorOf(result)).toEqual({ error: 'provider_error', code: null });
  });

  it('the email is verified only with xms_edov: true; an unverified one never grants ADMIN_EMAILS nor links by email', async () => {
    s.ms.accounts.set('root-unverified', { tid: WORK_TENANT, email: 'root@corp.test' });
    s.ms.accounts.set('root-string', { tid: guidOf('tenant:fabrikam'), email: 'root@corp.test', xms_edov: 'yes' });
    const a = await tokensFor((await browserSignIn(new TestBrowser(), s.url, 'microsoft', { login: 'root-unverified', returnTo })).result);
    expect(a).toMatchObject({ email: 'root@corp.test', emailVerified: false, roles: ['user'] });
    const b = await tokensFor((await browserSignIn(new TestBrowser(), s.url, 'microsoft', { login: 'root-string', returnTo })).result);
    expect(b).toMatchObject({ emailVerified: false, roles: ['user'] });
    expect(b.id).not.toBe(a.id);
    s.ms.accounts.set('root-verified', { tid: guidOf('tenant:northwind'), email: 'root@corp.test', xms_edov: true });
    const c = await tokensFor((await browserSignIn(new TestBrowser(), s.url, 'microsoft', { login: 'root-verified', returnTo })).result);
    expect(c).toMatchObject({ emailVerified: true, roles: expect.arrayContaining(['admin']) });
    // Auto-link is on, but the accounts with this email never had it verified: nobody to join.
    expect([a.id, b.id]).not.toContain(c.id);
  });

  it('F4: the redirect_uri comes from PUBLIC_URL, never from Host', async () => {
    for (const provider of ['microsoft', 'apple']) {
      const hop = await new TestBrowser().request(`${s.url}/auth/${provider}/login`, { headers: { 'x-forwarded-host': 'evil.example' } });
      expect(new URL(hop.headers.get('location')!).searchParams.get('redirect_uri')).toBe(
        `${s.service.publicUrl}/auth/${provider}/callback`,
      );
    }
  });

  it('Cancel ends at returnTo with access_denied', async () => {
    const { result } = await browserSignIn(new TestBrowser(), s.url, 'microsoft', { login: 'ron', returnTo, cancel: true });
    expect(errorOf(result)).toEqual({ error: 'access_denied', code: null });
  });

  it('GET /auth/providers lists both with their types', async () => {
    const res = await callApi(s.url, 'GET', '/auth/providers');
    expect(res.body).toEqual([
      { id: 'apple', name: 'Apple', type: 'apple' },
      { id: 'microsoft', name: 'Microsoft', type: 'microsoft' },
    ]);
  });
});

describe('MICROSOFT_TENANTS', () => {
  let r: Setup;
  beforeAll(async () => {
    r = await startSetup({ MICROSOFT_TENANTS: WORK_TENANT.toUpperCase() });
  });
  afterAll(async () => {
    await r?.close();
  });
  afterEach(() => {
    expect(r.service.serverErrors).toEqual([]);
  });

  it('admits the listed tenant and refuses another (personal accounts) with tenant_not_allowed, audited', async () => {
    r.ms.accounts.set('worker', { tid: WORK_TENANT });
    r.ms.accounts.set('home', { tid: CONSUMERS_TENANT });
    const ok = await browserSignIn(new TestBrowser(), r.url, 'microsoft', { login: 'worker' });
    expect(ok.result.searchParams.get('code')).toBeTruthy();
    const refused = await browserSignIn(new TestBrowser(), r.url, 'microsoft', { login: 'home' });
    expect(errorOf(refused.result)).toEqual({ error: 'tenant_not_allowed', code: null });
    expect(refused.result.searchParams.get('error_description')).toContain(CONSUMERS_TENANT);
    const failures = await r.service.app
      .get(DataSource)
      .getRepository(AuditEvent)
      .findBy({ type: 'sign_in_failed', provider: 'microsoft' });
    expect(failures.map((f) => f.reason)).toEqual(['tenant_not_allowed']);
  });
});

describe('logs of Apple and Microsoft sign-ins', () => {
  let r: Setup;
  const lines: string[] = [];
  beforeAll(async () => {
    const stream = new PassThrough();
    stream.on('data', (chunk: Buffer) => lines.push(...chunk.toString().split('\n').filter(Boolean)));
    r = await startSetup({}, stream);
  });
  afterAll(async () => {
    await r?.close();
  });

  it('never contain the posted code, state or user field, Apple’s client secret or key, or Microsoft’s secret', async () => {
    // The helpers above run against `s` and `returnTo`: this service's, for this test.
    const saved = [s, returnTo] as const;
    s = r;
    returnTo = `${r.service.publicUrl}/app/after-sign-in`;
    try {
      const apple = await appleSignIn(new TestBrowser(), 'logged');
      const failed = await appleSignIn(new TestBrowser(), 'logged2', { cancel: true });
      const ms = await browserSignIn(new TestBrowser(), r.url, 'microsoft', { login: 'logged', returnTo });
      await new Promise((done) => setTimeout(done, 100));
      const all = lines.join('\n');
      expect(lines.length).toBeGreaterThan(5);
      const keyBody = r.apple.privateKeyPem.split('\n').filter((l) => l && !l.startsWith('-----'));
      const secrets: Record<string, string> = {
        code: apple.applePage.fields.code,
        state: apple.applePage.fields.state,
        failed_state: failed.applePage.fields.state,
        user: apple.applePage.fields.user,
        our_code: apple.result.searchParams.get('code')!,
        client_secret: r.apple.secretsSeen[0],
        ms_secret: 'ms-secret',
        ms_code: ms.result.searchParams.get('code')!,
        ...Object.fromEntries(keyBody.map((l, i) => [`key${i}`, l])),
      };
      for (const [name, value] of Object.entries(secrets)) expect([name, value.length > 4 && all.includes(value)]).toEqual([name, false]);
    } finally {
      [s, returnTo] = saved;
    }
  });
});

describe('through the OpenID Provider: an app’s sign-in brokered to Apple', () => {
  let r: Setup;
  beforeAll(async () => {
    r = await startSetup({ OPENID_PROVIDER: 'true', ADMIN_EMAILS: 'root@corp.test' });
  });
  afterAll(async () => {
    await r?.close();
  });
  afterEach(() => {
    expect(r.service.serverErrors).toEqual([]);
  });

  it('F1: Apple’s posted response, re-posted same-site, ends at the app with a code and an ID token for the person', async () => {
    r.ms.accounts.set('root', { tid: WORK_TENANT, email: 'root@corp.test', xms_edov: true });
    const admin = await browserSignIn(new TestBrowser(), r.url, 'microsoft', { login: 'root' });
    const adminToken = (await exchangeCode(r.url, admin.result.searchParams.get('code')!)).body.access_token as string;
    const client = await callApi(r.url, 'POST', '/admin/clients', adminToken, {
      name: 'App',
      redirect_uris: [REDIRECT],
      first_party: true,
    });
    expect(client.status).toBe(201);
    const rp = await oidc.discovery(
      new URL(r.service.publicUrl),
      client.body.client_id,
      undefined,
      oidc.ClientSecretBasic(client.body.client_secret),
      { execute: [oidc.allowInsecureRequests] },
    );
    const attempt = await authorizationRequest(rp);
    const browser = new TestBrowser();
    r.apple.userFields.set('brokered', { name: { firstName: 'Bo', lastName: 'Kered' } });
    // Our authorization endpoint → the sign-in page of the interaction → its "Sign in with Apple" → Apple's login form.
    const signInPage = await browser.follow(attempt.url.href);
    const button = /href="(\/interaction\/[^"]+\/login\/apple)"/.exec(signInPage.last.body);
    expect(signInPage.last.body).toContain('Sign in with Apple');
    const toApple = await browser.follow(new URL(button![1], r.url).href, (u) => u.startsWith(r.apple.url));
    if (!toApple.stoppedAt) throw new Error(`not at Apple: ${toApple.last.status} ${toApple.last.url} ${toApple.last.body.slice(0, 400)}`);
    const login = await browser.follow(toApple.stoppedAt);
    const at = await browser.follow(formAction(login.last, '/login'), undefined, { method: 'POST', form: { login: 'brokered' } });
    const applePage = formOf(at.last);
    const page = await browser.request(applePage.action, { method: 'POST', form: applePage.fields, crossSite: true });
    const repost = formOf(page);
    const resumed = await browser.request(repost.action, { method: 'POST', form: repost.fields });
    expect(resumed.status).toBe(302);
    const back = await browser.follow(new URL(resumed.headers.get('location')!, r.url).href, backAtClient);
    expect(back.stoppedAt).toBeDefined();
    const tokens = await oidc.authorizationCodeGrant(rp, new URL(back.stoppedAt!), {
      pkceCodeVerifier: attempt.verifier,
      expectedState: attempt.state,
      expectedNonce: attempt.nonce,
      idTokenExpected: true,
    });
    const me = await callApi(r.url, 'GET', '/me', tokens.access_token);
    expect(me.body).toMatchObject({ name: 'Bo Kered', identities: [expect.objectContaining({ provider: 'apple', subject: 'brokered' })] });
  });
});
