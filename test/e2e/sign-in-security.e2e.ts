import { createHash } from 'node:crypto';
import { DataSource } from 'typeorm';
import { Identity } from '../../src/accounts/identity.entity.js';
import { AuditEvent } from '../../src/audit/audit-event.entity.js';
import { TestBrowser } from '../support/browser.js';
import { browserSignIn, exchangeCode, getJson, postJson, signInAndGetTokens } from '../support/sign-in.js';
import type { Tamper } from '../support/tampering-proxy.js';
import { startWorld, type World } from '../support/world.js';

let world: World;
let url: string;
let home: string;

beforeAll(async () => {
  // Behind a proxy on this machine, as in most deployments: X-Forwarded-For names the client (and F4 below then also
  // shows that X-Forwarded-Host is ignored where it would be believed).
  world = await startWorld({ TRUST_PROXY: 'loopback' });
  url = world.service.url;
  home = `${world.service.publicUrl}/`;
});

afterAll(async () => {
  await world?.close();
});

afterEach(() => {
  expect(world.service.serverErrors).toEqual([]);
});

const db = () => world.service.app.get(DataSource);
const errorOf = (u: URL) => ({ error: u.searchParams.get('error'), code: u.searchParams.get('code') });

/** Runs a sign-in up to the moment the provider sends the browser to our callback, without following it. */
async function untilCallback(browser: TestBrowser, provider: string, login = 'mallory') {
  const isCallback = (u: string) => new URL(u).pathname === `/auth/${provider}/callback`;
  const start = await browser.request(`${url}/auth/${provider}/login`);
  let r = await browser.follow(start.headers.get('location')!, isCallback);
  if (!r.stoppedAt) {
    const action = r.last.body.match(/action="([^"]+\/login)"/)![1];
    r = await browser.follow(new URL(action, r.last.url).href, isCallback, { method: 'POST', form: { login } });
  }
  return new URL(r.stoppedAt!);
}

describe('login state (checklist F1, F5, F6)', () => {
  it('F1: refuses a callback whose state was never issued (forged)', async () => {
    const browser = new TestBrowser();
    const callback = await untilCallback(browser, 'acme');
    callback.searchParams.set('state', 'A'.repeat(43));
    const hop = await browser.request(callback.href);
    expect(hop.status).toBe(302);
    const back = new URL(hop.headers.get('location')!);
    expect(back.origin + back.pathname).toBe(home);
    expect(errorOf(back)).toEqual({ error: 'invalid_state', code: null });
  });

  it('F1: refuses a callback without state', async () => {
    const browser = new TestBrowser();
    const callback = await untilCallback(browser, 'acme');
    callback.searchParams.delete('state');
    const hop = await browser.request(callback.href);
    expect(errorOf(new URL(hop.headers.get('location')!)).error).toBe('invalid_state');
  });

  it('F1: refuses a replayed callback, even with a copy of the login cookie', async () => {
    const browser = new TestBrowser();
    const callback = await untilCallback(browser, 'acme');
    const cookies = new Map(browser.cookies('127.0.0.1'));
    const first = await browser.request(callback.href);
    expect(new URL(first.headers.get('location')!).searchParams.get('code')).toBeTruthy();
    for (const [k, v] of cookies) browser.cookies('127.0.0.1').set(k, v);
    const replay = await browser.request(callback.href);
    expect(errorOf(new URL(replay.headers.get('location')!))).toEqual({ error: 'invalid_state', code: null });
  });

  it('F6: makes a provider code useless in another browser (no login cookie there)', async () => {
    const victim = new TestBrowser();
    const callback = await untilCallback(victim, 'corp');
    const attacker = new TestBrowser();
    const hop = await attacker.request(callback.href);
    expect(errorOf(new URL(hop.headers.get('location')!)).error).toBe('invalid_state');
  });

  it("F5: refuses provider A's code and state at provider B's callback (mix-up): the state is bound to A", async () => {
    const browser = new TestBrowser();
    const callback = await untilCallback(browser, 'corp');
    // Facebook sends no `iss`, so only the binding of state to its provider can catch this.
    const mixed = new URL(callback.href.replace('/auth/corp/callback', '/auth/facebook/callback'));
    mixed.searchParams.delete('iss');
    const hop = await browser.request(mixed.href);
    expect(errorOf(new URL(hop.headers.get('location')!)).error).toBe('invalid_state');
  });

  it("F5: refuses provider A's response at provider B's callback when B always names itself (iss, RFC 9207)", async () => {
    const browser = new TestBrowser();
    const callback = await untilCallback(browser, 'corp');
    const mixed = new URL(callback.href.replace('/auth/corp/callback', '/auth/acme/callback'));
    for (const iss of [callback.searchParams.get('iss')!, null]) {
      if (iss === null) mixed.searchParams.delete('iss');
      const hop = await browser.request(mixed.href);
      expect(errorOf(new URL(hop.headers.get('location')!)).error).toBe('invalid_request');
    }
  });

  it('F5: refuses a response whose iss names another issuer (RFC 9207)', async () => {
    const browser = new TestBrowser();
    const callback = await untilCallback(browser, 'corp');
    callback.searchParams.set('iss', world.acme.issuer);
    const hop = await browser.request(callback.href);
    expect(errorOf(new URL(hop.headers.get('location')!)).error).toBe('invalid_request');
  });

  it('S3, F8: seals login state in an HttpOnly, SameSite=Lax cookie, and the callback sends Referrer-Policy: no-referrer', async () => {
    const browser = new TestBrowser();
    const start = await browser.request(`${url}/auth/corp/login`);
    const cookie = start.headers.getSetCookie().find((c) => c.startsWith('login_'))!;
    expect(cookie).toMatch(/; HttpOnly/);
    expect(cookie).toMatch(/; SameSite=Lax/);
    expect(cookie).toMatch(/; Path=\//);
    expect(cookie).not.toContain(new URL(start.headers.get('location')!).searchParams.get('nonce'));
    const callback = await untilCallback(browser, 'corp');
    const hop = await browser.request(callback.href);
    expect(hop.headers.get('referrer-policy')).toBe('no-referrer');
  });

  it('F2, F3: uses a fresh PKCE challenge and nonce on every login', async () => {
    const seen = new Set<string>();
    for (const provider of ['google', 'facebook', 'corp', 'acme']) {
      for (let i = 0; i < 2; i++) {
        const hop = await new TestBrowser().request(`${url}/auth/${provider}/login`);
        const authorize = new URL(hop.headers.get('location')!);
        expect(authorize.searchParams.get('code_challenge_method')).toBe('S256');
        seen.add(authorize.searchParams.get('code_challenge')!);
        if (provider !== 'facebook') seen.add(authorize.searchParams.get('nonce')!);
      }
    }
    expect(seen.size).toBe(2 * 4 + 2 * 3);
  });

  it('F4: builds redirect_uri from PUBLIC_URL, never from Host or X-Forwarded-Host', async () => {
    const hop = await new TestBrowser().request(`${url}/auth/acme/login`, {
      headers: { host: 'evil.example', 'x-forwarded-host': 'evil.example' },
    });
    expect(new URL(hop.headers.get('location')!).searchParams.get('redirect_uri')).toBe(`${world.service.publicUrl}/auth/acme/callback`);
  });
});

describe('returnTo (checklist F7)', () => {
  it.each(['https://evil.example/x', '//evil.example/x', '/\\evil.example/x', 'javascript:alert(1)', 'http://127.0.0.1:1/elsewhere'])(
    'F7: sends %s back to the built-in page instead',
    async (returnTo) => {
      const { result } = await browserSignIn(new TestBrowser(), url, 'acme', { returnTo, backAt: home });
      expect(result.origin + result.pathname).toBe(home);
      expect(result.searchParams.get('code')).toBeTruthy();
    },
  );

  it('keeps an allowed returnTo with its own query parameters', async () => {
    const returnTo = `${world.service.publicUrl}/app/done?tab=2`;
    const { result } = await browserSignIn(new TestBrowser(), url, 'acme', { returnTo });
    expect(result.pathname).toBe('/app/done');
    expect(result.searchParams.get('tab')).toBe('2');
    expect(result.searchParams.get('code')).toBeTruthy();
  });
});

describe('ID tokens and UserInfo from a tampering proxy (checklist I1–I4, F3)', () => {
  afterEach(() => {
    world.proxy.tamper = undefined;
  });

  it.each<[string, Tamper, string]>([
    ['I1', 'alg-none', 'invalid_id_token'],
    ['I1', 'other-key', 'invalid_id_token'],
    ['F3', 'wrong-nonce', 'invalid_id_token'],
    ['I2', 'wrong-audience', 'invalid_id_token'],
    ['I2', 'extra-audience', 'invalid_id_token'],
    ['I2', 'wrong-issuer', 'invalid_id_token'],
    ['I3', 'expired', 'invalid_id_token'],
    ['I3', 'stale-iat', 'invalid_id_token'],
    ['I4', 'userinfo-other-sub', 'invalid_id_token'],
    ['I4', 'userinfo-not-json', 'provider_error'],
  ])('%s: refuses %s and creates no account', async (_row, tamper, error) => {
    world.proxy.tamper = tamper;
    const login = `victim-${tamper}`;
    const { result } = await browserSignIn(new TestBrowser(), url, 'shady', { login });
    expect(errorOf(result)).toEqual({ error, code: null });
    expect(await db().getRepository(Identity).countBy({ provider: 'shady', subject: login })).toBe(0);
  });

  // node-oauth and passport-openidconnect read these, or make the UserInfo request with them, in the token request's
  // response handler, where a throw is uncaught and ends the process: every later request would fail (a crash would also fail this suite).
  it.each<[Tamper, string]>([
    ['token-null', 'a token response that is JSON null'],
    ['id-token-not-string', 'an id_token that is a number'],
    ['id-token-claims-null', 'an id_token whose payload is JSON null'],
    ['access-token-control-char', 'an access_token with a newline (the UserInfo request cannot be sent)'],
  ])('%s: %s is provider_error, and the process keeps serving', async (tamper) => {
    world.proxy.tamper = tamper;
    const { result } = await browserSignIn(new TestBrowser(), url, 'shady', { login: `victim-${tamper}` });
    expect(errorOf(result)).toEqual({ error: 'provider_error', code: null });
    world.proxy.tamper = undefined;
    const { me } = await signInAndGetTokens(new TestBrowser(), url, 'shady', { login: `after-${tamper}` });
    expect(me.identities[0]).toMatchObject({ provider: 'shady', subject: `after-${tamper}` });
  });

  it('signs in through the same proxy when nothing is tampered with', async () => {
    const { me } = await signInAndGetTokens(new TestBrowser(), url, 'shady', { login: 'honest' });
    expect(me.identities[0]).toMatchObject({ provider: 'shady', subject: 'honest' });
  });
});

describe('accounts', () => {
  it('returns the same user for the same identity on a second sign-in, and refreshes the profile', async () => {
    world.corp.accounts.set('sam', { email: 'sam@corp.test', email_verified: true, name: 'Sam' });
    const first = await signInAndGetTokens(new TestBrowser(), url, 'corp', { login: 'sam' });
    world.corp.accounts.set('sam', { email: 'sam@corp.test', email_verified: true, name: 'Samuel' });
    const second = await signInAndGetTokens(new TestBrowser(), url, 'corp', { login: 'sam' });
    expect(second.me.id).toBe(first.me.id);
    expect(second.me.name).toBe('Samuel');
    expect(second.me.identities).toHaveLength(1);
  });

  it('I5: never merges by email by default: same email at another provider is another account', async () => {
    world.acme.accounts.set('sam2', { email: 'same@mail.test', email_verified: true, name: 'A' });
    world.corp.accounts.set('sam3', { email: 'same@mail.test', email_verified: true, name: 'B' });
    const a = await signInAndGetTokens(new TestBrowser(), url, 'acme', { login: 'sam2' });
    const b = await signInAndGetTokens(new TestBrowser(), url, 'corp', { login: 'sam3' });
    expect(a.me.id).not.toBe(b.me.id);
  });

  it('reports a cancelled sign-in as access_denied to returnTo', async () => {
    const { result } = await browserSignIn(new TestBrowser(), url, 'acme', { cancel: true });
    expect(errorOf(result)).toEqual({ error: 'access_denied', code: null });
    const fb = await browserSignIn(new TestBrowser(), url, 'facebook', { cancel: true });
    expect(errorOf(fb.result)).toEqual({ error: 'access_denied', code: null });
  });
});

describe('profile text a database cannot hold as sent (both databases: PostgreSQL refuses NUL and over-long values)', () => {
  const long = (n: number, c = 'x') => c.repeat(n);
  it.each<[string, Record<string, unknown>, Record<string, unknown>]>([
    ['a NUL in the name', { name: 'Bad\u0000Name' }, { name: null }],
    ['a newline in the name', { name: 'Two\nLines' }, { name: null }],
    ['a name over its 200 characters', { name: long(300, 'n') }, { name: long(200, 'n') }],
    ['a NUL in the picture', { picture: 'https://img.test/a\u0000.png' }, { picture: null }],
    ['a picture URL over its 2,048 characters', { picture: `https://img.test/${long(2100)}` }, { picture: null }],
    ['a NUL in the email', { email: 'nul\u0000@corp.test' }, { email: null, emailVerified: false }],
    // Cut to 320 characters, this one would be a corp.test address, verified.
    ['an email over its 320 characters', { email: `${long(310)}@corp.test.attacker.example` }, { email: null, emailVerified: false }],
    ['an email that is no address', { email: 'not an address' }, { email: null, emailVerified: false }],
    // "İ".toLowerCase() is two characters: 310 became 610, over the column. Folded in ASCII only, it stays 310.
    [
      'an email of dotted capital Is',
      { email: `${long(300, 'İ')}@corp.test` },
      { email: `${long(300, 'İ')}@corp.test`, emailVerified: true },
    ],
  ])('signs in with %s, the field dropped or shortened', async (_what, claims, expected) => {
    const login = `odd-${createHash('sha256').update(JSON.stringify(claims)).digest('hex').slice(0, 8)}`;
    world.corp.accounts.set(login, {
      email: `${login}@corp.test`,
      email_verified: true,
      name: 'Odd',
      picture: 'https://img.test/odd.png',
      ...claims,
    });
    const { me } = await signInAndGetTokens(new TestBrowser(), url, 'corp', { login });
    expect(me).toMatchObject(expected);
    const identity = await db().getRepository(Identity).findOneByOrFail({ provider: 'corp', subject: login });
    expect(identity).toMatchObject(expected);
  });
});

describe('the client IP behind a trusted proxy (TRUST_PROXY)', () => {
  /** A browser whose requests all come through a proxy that forwarded `xff` as the client's address. */
  function behindProxy(xff: string) {
    const browser = new TestBrowser();
    const request = browser.request.bind(browser);
    browser.request = (u, init = {}) => request(u, { ...init, headers: { ...init.headers, 'x-forwarded-for': xff } });
    return browser;
  }

  it.each([
    ['an IPv6 address', '2001:db8::7', '2001:db8::7'],
    ['the address the proxy appended after a client-sent one', '10.9.8.7, 198.51.100.7', '198.51.100.7'],
    ['text longer than the 64-character column', 'x'.repeat(100), null],
    ['an address with more after it', '198.51.100.7 junk', null],
  ])('signs in with %s forwarded, recording that address or, when it is none, null', async (_what, xff, ip) => {
    const login = `xff-${createHash('sha256').update(xff).digest('hex').slice(0, 8)}`;
    const { me, tokens } = await signInAndGetTokens(behindProxy(xff), url, 'acme', { login });
    // The app's session and the service's own browser session: both from the callback request.
    const sessions = (await getJson(`${url}/me/sessions`, tokens.access_token)).body as unknown as { ip: string | null }[];
    expect([...new Set(sessions.map((s) => s.ip))]).toEqual([ip]);
    const signIn = await db().getRepository(AuditEvent).findOneByOrFail({ userId: me.id, type: 'sign_in' });
    expect(signIn.ip).toBe(ip);
  });
});

describe('the one-time code', () => {
  it('is single use; a replay also ends the session it was exchanged for (RFC 6749 §4.1.2)', async () => {
    const { result } = await browserSignIn(new TestBrowser(), url, 'acme', { login: 'rita' });
    const code = result.searchParams.get('code')!;
    const first = await exchangeCode(url, code);
    expect(first.status).toBe(200);
    const again = await exchangeCode(url, code);
    expect(again).toEqual({ status: 400, body: { error: 'invalid_grant', error_description: expect.any(String) } });
    const refresh = await postJson(`${url}/auth/token`, { grant_type: 'refresh_token', refresh_token: first.body.refresh_token });
    expect(refresh.body.error).toBe('invalid_grant');
  });

  it('answers an unknown, a spent and a refresh-token-shaped code alike (no enumeration)', async () => {
    const { result } = await browserSignIn(new TestBrowser(), url, 'acme', { login: 'enum' });
    const code = result.searchParams.get('code')!;
    await exchangeCode(url, code);
    const answers = await Promise.all([exchangeCode(url, code), exchangeCode(url, 'A'.repeat(43)), exchangeCode(url, 'nope')]);
    expect(new Set(answers.map((a) => JSON.stringify(a)))).toEqual(
      new Set([
        JSON.stringify({
          status: 400,
          body: { error: 'invalid_grant', error_description: 'the code is invalid, expired or already used' },
        }),
      ]),
    );
  });

  it('of N concurrent exchanges, exactly one succeeds', async () => {
    const { result } = await browserSignIn(new TestBrowser(), url, 'acme', { login: 'racer' });
    const code = result.searchParams.get('code')!;
    const answers = await Promise.all(Array.from({ length: 10 }, () => exchangeCode(url, code)));
    expect(answers.filter((a) => a.status === 200)).toHaveLength(1);
    expect(answers.filter((a) => a.status === 400)).toHaveLength(9);
  });

  it('is bound to the app’s PKCE challenge when it sent one', async () => {
    const verifier = 'v'.repeat(20) + 'erifier-0123456789-abcdefghijkl';
    const challenge = createHash('sha256').update(verifier).digest('base64url');
    const signIn = async () =>
      (await browserSignIn(new TestBrowser(), url, 'acme', { login: 'pkce-app', codeChallenge: challenge })).result.searchParams.get(
        'code',
      )!;
    expect((await exchangeCode(url, await signIn())).body.error).toBe('invalid_grant');
    expect((await exchangeCode(url, await signIn(), `${verifier}x`)).body.error).toBe('invalid_grant');
    expect((await exchangeCode(url, await signIn(), verifier)).status).toBe(200);
  });

  describe('bound to a PKCE challenge, it is spent only by its verifier (checklist L3)', () => {
    const verifier = 'L3-verifier-0123456789-abcdefghijklmnopqrstuvwxyz';
    const challenge = createHash('sha256').update(verifier).digest('base64url');
    /** Missing, wrong (well-formed), malformed: none of them is the app that started the sign-in. */
    const wrongVerifiers = [undefined, `${verifier}x`, 'W'.repeat(43), 'short'];
    const pkceCode = async (login: string) =>
      (await browserSignIn(new TestBrowser(), url, 'acme', { login, codeChallenge: challenge })).result.searchParams.get('code')!;
    const refresh = (refresh_token: unknown) => postJson(`${url}/auth/token`, { grant_type: 'refresh_token', refresh_token });
    const reuseEvents = (userId: string) => db().getRepository(AuditEvent).findBy({ type: 'authorization_code_reused', userId });

    it('L3: without its verifier, or with a wrong or malformed one, the code is refused and stays unspent', async () => {
      const code = await pkceCode('l3-unspent');
      for (const wrong of wrongVerifiers) {
        expect([wrong, await exchangeCode(url, code, wrong)]).toEqual([
          wrong,
          { status: 400, body: { error: 'invalid_grant', error_description: expect.any(String) } },
        ]);
      }
      const right = await exchangeCode(url, code, verifier);
      expect(right.status).toBe(200);
      expect((await getJson(`${url}/me`, right.body.access_token as string)).status).toBe(200);
      expect((await exchangeCode(url, code, verifier)).body.error).toBe('invalid_grant');
    });

    it('L3: a spent code presented without or with a wrong verifier revokes nothing; with its verifier, the replay ends the session', async () => {
      const code = await pkceCode('l3-replayed');
      const first = await exchangeCode(url, code, verifier);
      expect(first.status).toBe(200);
      const userId = (await getJson(`${url}/me`, first.body.access_token as string)).body.id as string;
      for (const wrong of wrongVerifiers) expect((await exchangeCode(url, code, wrong)).body.error).toBe('invalid_grant');
      const alive = await refresh(first.body.refresh_token);
      expect(alive.status).toBe(200);
      expect((await getJson(`${url}/me`, alive.body.access_token as string)).status).toBe(200);
      expect(await reuseEvents(userId)).toEqual([]);

      expect((await exchangeCode(url, code, verifier)).body.error).toBe('invalid_grant');
      expect((await refresh(alive.body.refresh_token)).body.error).toBe('invalid_grant');
      expect((await getJson(`${url}/me`, alive.body.access_token as string)).status).toBe(401);
      expect(await reuseEvents(userId)).toHaveLength(1);
    });

    it('L3: a code issued without a challenge is refused with a verifier (a downgrade), and is not spent by that', async () => {
      const { result } = await browserSignIn(new TestBrowser(), url, 'acme', { login: 'l3-plain' });
      const code = result.searchParams.get('code')!;
      expect((await exchangeCode(url, code, verifier)).body.error).toBe('invalid_grant');
      expect((await exchangeCode(url, code)).status).toBe(200);
    });

    it('L3: of concurrent exchanges, the wrong verifiers spend nothing and exactly one right one wins', async () => {
      const code = await pkceCode('l3-racer');
      const verifiers = Array.from({ length: 12 }, (_, i) => (i % 2 ? verifier : wrongVerifiers[(i / 2) % wrongVerifiers.length]));
      const answers = await Promise.all(verifiers.map((v) => exchangeCode(url, code, v)));
      const statuses = (right: boolean) => answers.filter((_, i) => (verifiers[i] === verifier) === right).map((a) => a.status);
      expect(statuses(true).sort()).toEqual([200, 400, 400, 400, 400, 400]);
      expect(statuses(false)).toEqual([400, 400, 400, 400, 400, 400]);
    });
  });

  it('refuses a plain or malformed code_challenge at login', async () => {
    const hop = await new TestBrowser().request(`${url}/auth/acme/login?code_challenge=abc&code_challenge_method=plain`);
    expect(errorOf(new URL(hop.headers.get('location')!)).error).toBe('invalid_request');
  });

  it('S5: is stored only as a hash', async () => {
    const { result } = await browserSignIn(new TestBrowser(), url, 'acme', { login: 'hashy' });
    const code = result.searchParams.get('code')!;
    const rows: { code_hash: string }[] = await db().query('SELECT code_hash FROM authorization_codes');
    expect(rows.map((r) => r.code_hash)).toContain(createHash('sha256').update(code).digest('base64url'));
    expect(JSON.stringify(rows)).not.toContain(code);
  });
});

describe('several instances', () => {
  it('finishes on a second instance a sign-in started on the first (state lives in the browser, not in memory)', async () => {
    const second = await world.secondInstance();
    const browser = new TestBrowser();
    browser.rewrite = (u) => (u.includes('/auth/corp/callback') ? u.replace(world.service.url, second.url) : u);
    const { result } = await browserSignIn(browser, url, 'corp', { login: 'wanderer' });
    expect(browser.history.some((h) => h.url.startsWith(`${second.url}/auth/corp/callback`))).toBe(true);
    const tokens = await exchangeCode(url, result.searchParams.get('code')!);
    expect(tokens.status).toBe(200);
    const me = await getJson(`${second.url}/me`, tokens.body.access_token as string);
    expect(me.body.identities).toEqual([expect.objectContaining({ provider: 'corp', subject: 'wanderer' })]);
    expect(second.serverErrors).toEqual([]);
  });
});
