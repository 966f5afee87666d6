import passport from 'passport';
import { DataSource } from 'typeorm';
import { Identity } from '../../src/accounts/identity.entity.js';
import { DomainError } from '../../src/common/domain-error.js';
import { ProviderRegistry } from '../../src/auth/providers/provider-registry.js';
import { TestBrowser } from '../support/browser.js';
import { browserSignIn, callApi, completeAtProvider, exchangeCode, signInAndGetTokens } from '../support/sign-in.js';
import { startWorld, type World } from '../support/world.js';

/** What providers answer that the service must not take at face value (issue 15). */
let world: World;
let url: string;
/** An allowed returnTo that is not the built-in page, so "back at returnTo" and "back at the fallback" differ. */
let returnTo: string;
let adminToken: string;

beforeAll(async () => {
  world = await startWorld({ ADMIN_EMAILS: 'root@corp.test' });
  url = world.service.url;
  returnTo = `${world.service.publicUrl}/app/after-sign-in`;
  world.corp.accounts.set('root', { email: 'root@corp.test', email_verified: true, name: 'Root' });
  adminToken = (await signInAndGetTokens(new TestBrowser(), url, 'corp', { login: 'root' })).tokens.access_token;
});

/** The newest sign_in_failed audit row for `provider`, as an admin reads it. */
async function lastFailure(provider: string) {
  const page = await callApi(url, 'GET', '/admin/audit?type=sign_in_failed&limit=20', adminToken);
  expect(page.status).toBe(200);
  return (page.body.items as { provider: string; reason: string; details: Record<string, unknown> }[]).find((e) => e.provider === provider);
}

afterAll(async () => {
  await world?.close();
});

afterEach(() => {
  world.facebook.meAnswer = undefined;
  world.proxy.tamper = undefined;
  expect(world.service.serverErrors).toEqual([]);
});

/** Runs a sign-in up to the provider's redirect to our callback, without following it. */
async function untilCallback(browser: TestBrowser, provider: string) {
  const isCallback = (u: string) => new URL(u).pathname === `/auth/${provider}/callback`;
  const start = await browser.request(`${url}/auth/${provider}/login?${new URLSearchParams({ returnTo })}`);
  const r = await browser.follow(start.headers.get('location')!, isCallback);
  const action = /action="([^"]+\/login)"/.exec(r.last.body)![1];
  const back = await browser.follow(new URL(action, r.last.url).href, isCallback, { method: 'POST', form: { login: 'someone' } });
  return new URL(back.stoppedAt!);
}

/** The provider's error response (RFC 6749 §4.1.2.1) in place of the code it sent back: same state, same iss. */
function errorResponse(callback: URL, params: Record<string, string>): string {
  const failed = new URL(callback.origin + callback.pathname);
  for (const [k, v] of Object.entries(params)) failed.searchParams.set(k, v);
  failed.searchParams.set('state', callback.searchParams.get('state')!);
  if (callback.searchParams.has('iss')) failed.searchParams.set('iss', callback.searchParams.get('iss')!);
  return failed.href;
}

const outcome = (u: URL) => ({
  at: u.origin + u.pathname,
  error: u.searchParams.get('error'),
  code: u.searchParams.get('code'),
});

describe('a subject is a non-empty string of at most 255 characters without control characters, at every provider', () => {
  it.each([
    ['no id', { name: 'Nobody' }],
    ['a null id', { id: null, name: 'Nobody' }],
    ['an object as id', { id: { value: '1' }, name: 'Nobody' }],
    ['an empty id', { id: '', name: 'Nobody' }],
    ['a Graph error body with HTTP 200', { error: { message: 'An unexpected error has occurred.', type: 'OAuthException', code: 2 } }],
    ['an id with a control character', { id: '123\n456' }],
    ['an id of 256 characters', { id: '1'.repeat(256) }],
  ])('Facebook: %s is refused as provider_error, for everyone who signs in', async (_why, body) => {
    world.facebook.meAnswer = body;
    for (const login of ['alice-fb', 'bob-fb']) {
      const { result } = await browserSignIn(new TestBrowser(), url, 'facebook', { login, returnTo });
      expect(outcome(result)).toEqual({ at: returnTo, error: 'provider_error', code: null });
    }
    // Before the rule, both people became one account with subject "undefined" (or "[object Object]").
    const identities = await world.service.app.get(DataSource).getRepository(Identity).findBy({ provider: 'facebook' });
    expect(identities.filter((i) => !/^\d{1,255}$/.test(i.subject))).toEqual([]);
  });

  it('Facebook: a body that is JSON but not an object (null) is refused too', async () => {
    world.facebook.meAnswer = null;
    const { result } = await browserSignIn(new TestBrowser(), url, 'facebook', { login: 'null-body', returnTo });
    expect(outcome(result)).toEqual({ at: returnTo, error: 'provider_error', code: null });
  });

  it('Facebook: an ordinary id still signs in', async () => {
    const { result } = await browserSignIn(new TestBrowser(), url, 'facebook', { login: 'ordinary-fb', returnTo });
    expect(outcome(result)).toEqual({ at: returnTo, error: null, code: expect.any(String) });
  });

  it.each([
    ['sub-control-char', 'a control character'],
    ['sub-too-long', '256 characters'],
  ] as const)('OIDC: a validly signed ID token whose sub has %s is refused as provider_error (%s)', async (tamper, _what) => {
    world.proxy.tamper = tamper;
    const { result } = await browserSignIn(new TestBrowser(), url, 'shady', { login: 'victim', returnTo });
    expect(outcome(result)).toEqual({ at: returnTo, error: 'provider_error', code: null });
  });
});

/**
 * passport-facebook's own parts, as passport-oauth2 drives them: the Graph call and the verify callback (PassportStrategy's,
 * around our validate), which Passport calls on the request's own copy of the strategy, whose `error` it may report to.
 */
interface FacebookStrategyParts {
  userProfile(accessToken: string, cb: (err: unknown, profile?: unknown) => void): void;
  _verify(
    this: { error(e: unknown): void },
    req: unknown,
    accessToken: string,
    refreshToken: string,
    profile: unknown,
    done: (...args: unknown[]) => void,
  ): Promise<void>;
}

/** Calls the verify callback as Passport does, on a copy of the strategy for one request; what it reports goes to `errors`. */
function verifyAsPassport(strategy: FacebookStrategyParts, errors: unknown[], ...args: [string, unknown, (...args: unknown[]) => void]) {
  const [accessToken, profile, done] = args;
  const request = Object.assign(Object.create(strategy) as FacebookStrategyParts, { error: (e: unknown) => errors.push(e) });
  return strategy._verify.call(request, {}, accessToken, '', profile, done);
}

describe('the Facebook verify callback calls done exactly once', () => {
  /** An access token from the Facebook fake, through its dialog and token endpoint. */
  async function facebookAccessToken(login: string): Promise<string> {
    const fb = world.facebook;
    const redirectUri = `${world.service.publicUrl}/auth/facebook/callback`;
    const dialog = await fetch(
      `${fb.env.FACEBOOK_AUTHORIZATION_URL}?${new URLSearchParams({ client_id: 'fb-app', redirect_uri: redirectUri })}`,
    );
    const request = /name="request" value="([^"]+)"/.exec(await dialog.text())![1];
    const confirm = await fetch(`${fb.url}/dialog/confirm`, {
      method: 'POST',
      body: new URLSearchParams({ request, login, action: 'continue' }),
      redirect: 'manual',
    });
    const code = new URL(confirm.headers.get('location')!).searchParams.get('code')!;
    const token = await fetch(fb.env.FACEBOOK_TOKEN_URL, {
      method: 'POST',
      body: new URLSearchParams({ client_id: 'fb-app', client_secret: 'fb-secret', code, redirect_uri: redirectUri }),
    });
    return ((await token.json()) as { access_token: string }).access_token;
  }

  /** The strategy the running service built, and a profile it fetched itself from the fake's Graph `/me`. */
  async function strategyAndProfile(login: string) {
    const strategy = world.service.app.get(ProviderRegistry).get('facebook').strategy as unknown as FacebookStrategyParts;
    const accessToken = await facebookAccessToken(login);
    const profile = await new Promise((resolve, reject) => strategy.userProfile(accessToken, (e, p) => (e ? reject(e) : resolve(p))));
    return { strategy, accessToken, profile };
  }

  it('once, when what done does next throws (Passport finishing the sign-in): the throw is not fed back into done', async () => {
    const { strategy, accessToken, profile } = await strategyAndProfile('done-once');
    const calls: unknown[][] = [];
    const done = (...args: unknown[]) => {
      calls.push(args);
      if (calls.length === 1) throw new Error('finishing the sign-in failed');
    };
    // Reported once, as the strategy's error: what passport-oauth2's own try/catch around the verify call does.
    const errors: unknown[] = [];
    await verifyAsPassport(strategy, errors, accessToken, profile, done);
    expect(calls).toEqual([[null, expect.objectContaining({ provider: 'facebook', subject: expect.stringMatching(/^\d+$/) })]]);
    expect(errors).toEqual([new Error('finishing the sign-in failed')]);
  });

  it('once, with the error, when the profile mapping throws', async () => {
    world.facebook.meAnswer = { name: 'No Id' };
    const { strategy, accessToken, profile } = await strategyAndProfile('mapping-throws');
    const calls: unknown[][] = [];
    const errors: unknown[] = [];
    await verifyAsPassport(strategy, errors, accessToken, profile, (...args: unknown[]) => calls.push(args));
    expect(calls).toHaveLength(1);
    expect(calls[0][0]).toBeInstanceOf(DomainError);
    expect((calls[0][0] as DomainError).code).toBe('provider_error');
    // PassportStrategy passes no user beside the error.
    expect(calls[0].slice(1)).toEqual([null]);
    expect(errors).toEqual([]);
  });
});

describe('a denied or failed sign-in ends at returnTo, at every provider kind', () => {
  it.each(['acme', 'corp', 'google', 'facebook'])(
    '%s: Cancel at the provider → returnTo?error=access_denied&error_description=…',
    async (provider) => {
      const { result } = await browserSignIn(new TestBrowser(), url, provider, { cancel: true, returnTo });
      expect(outcome(result)).toEqual({ at: returnTo, error: 'access_denied', code: null });
      expect(result.searchParams.get('error_description')).toEqual(expect.any(String));
    },
  );

  it.each(['acme', 'google'])(
    '%s: another error from the provider (temporarily_unavailable) → returnTo?error=provider_error',
    async (provider) => {
      const browser = new TestBrowser();
      const callback = await untilCallback(browser, provider);
      const hop = await browser.request(
        errorResponse(callback, { error: 'temporarily_unavailable', error_description: 'try again later' }),
      );
      expect(outcome(new URL(hop.headers.get('location')!))).toEqual({ at: returnTo, error: 'provider_error', code: null });
    },
  );

  it('an error response whose state is not this browser’s goes to the built-in page, not to any returnTo', async () => {
    const callback = await untilCallback(new TestBrowser(), 'acme');
    const hop = await new TestBrowser().request(errorResponse(callback, { error: 'access_denied' }));
    expect(outcome(new URL(hop.headers.get('location')!))).toEqual({
      at: `${world.service.publicUrl}/`,
      error: 'invalid_state',
      code: null,
    });
  });
});

describe('the provider’s own error is kept in the audit row of a failed sign-in, bounded and without tokens', () => {
  it('a Cancel at an OIDC provider: its error and error_description', async () => {
    await browserSignIn(new TestBrowser(), url, 'acme', { cancel: true, returnTo });
    expect(await lastFailure('acme')).toMatchObject({
      reason: 'access_denied',
      details: { providerError: 'access_denied', providerErrorDescription: 'the user declined' },
    });
  });

  it('a Cancel at Facebook: its error and error_description', async () => {
    await browserSignIn(new TestBrowser(), url, 'facebook', { cancel: true, returnTo });
    expect(await lastFailure('facebook')).toMatchObject({
      reason: 'access_denied',
      details: { providerError: 'access_denied', providerErrorDescription: 'Permissions error' },
    });
  });

  it('a Graph error body with HTTP 200: its type and message', async () => {
    world.facebook.meAnswer = { error: { message: 'An unexpected error has occurred.', type: 'OAuthException', code: 2 } };
    await browserSignIn(new TestBrowser(), url, 'facebook', { login: 'graph-error', returnTo });
    expect(await lastFailure('facebook')).toMatchObject({
      reason: 'provider_error',
      details: { providerError: 'OAuthException', providerErrorDescription: 'An unexpected error has occurred.' },
    });
  });

  it('an error response that echoes a token and the code, with control characters and no end: bounded, and neither is kept', async () => {
    const browser = new TestBrowser();
    const callback = await untilCallback(browser, 'google');
    const code = callback.searchParams.get('code')!;
    const jwt = `eyJhbGciOiJSUzI1NiJ9.${Buffer.from(JSON.stringify({ sub: 'someone', exp: 2e9 })).toString('base64url')}.c2lnbmF0dXJlMDEyMzQ1Njc4OQ`;
    const hop = await browser.request(
      errorResponse(callback, {
        error: `server_error ${'and more words '.repeat(10)}`,
        error_description: `bad token ${jwt} for code ${code}\r\nInjected: line ${'x '.repeat(400)}`,
      }),
    );
    expect(outcome(new URL(hop.headers.get('location')!))).toEqual({ at: returnTo, error: 'provider_error', code: null });
    const row = await lastFailure('google');
    const { providerError, providerErrorDescription } = row!.details as Record<string, string>;
    expect(providerError.startsWith('server_error')).toBe(true);
    expect(providerError.length).toBeLessThanOrEqual(64);
    expect(providerErrorDescription.startsWith('bad token ')).toBe(true);
    expect(providerErrorDescription.length).toBeLessThanOrEqual(256);
    expect(providerErrorDescription).not.toMatch(/[\u0000-\u001f]/);
    const stored = JSON.stringify(row);
    expect(stored).not.toContain(code);
    expect(stored).not.toContain(jwt.split('.')[1]);
  });
});

describe('a callback the libraries would take for the start of a new sign-in is refused, never sent on to the provider', () => {
  /** Signs in at the provider (its form, or Facebook's dialog) and stops before the service's callback. */
  async function atCallback(browser: TestBrowser, provider: string): Promise<URL> {
    const isCallback = (u: string) => new URL(u).pathname === `/auth/${provider}/callback`;
    const login = `${url}/auth/${provider}/login?${new URLSearchParams({ returnTo })}`;
    return (await completeAtProvider(browser, login, isCallback)).result;
  }

  // passport-oauth2 and passport-openidconnect read a request without a non-empty code or error as a new sign-in.
  it.each([
    ['acme', { code: '' }, 'fallback', 'invalid_id_token'],
    ['acme', { error: '' }, 'returnTo', 'invalid_id_token'],
    ['acme', { error_code: '200' }, 'returnTo', 'access_denied'],
    ['google', { code: '' }, 'fallback', 'invalid_id_token'],
    ['google', { error: '' }, 'returnTo', 'invalid_id_token'],
    ['google', { error_code: '200' }, 'returnTo', 'access_denied'],
    ['facebook', { code: '' }, 'fallback', 'invalid_id_token'],
    ['facebook', { error: '' }, 'returnTo', 'invalid_id_token'],
  ] as const)('%s, with %j and this browser’s state: an error redirect (%s, %s), nothing thrown', async (provider, params, at, error) => {
    const rejections: unknown[] = [];
    const onRejection = (e: unknown) => rejections.push(e);
    process.on('unhandledRejection', onRejection);
    try {
      const browser = new TestBrowser();
      const callback = await atCallback(browser, provider);
      const hop = await browser.request(errorResponse(callback, params));
      expect(hop.status).toBe(302);
      const to = new URL(hop.headers.get('location')!);
      expect(outcome(to)).toEqual({ at: at === 'returnTo' ? returnTo : `${world.service.publicUrl}/`, error, code: null });
      await new Promise((r) => setImmediate(r));
      expect(rejections).toEqual([]);
    } finally {
      process.off('unhandledRejection', onRejection);
    }
  });
});

describe('each instance of the service has strategies of its own (Passport keeps one registry per process)', () => {
  it('a second service in this process, with the same provider ids and stand-ins of its own, signs in with its own; closed, it leaves none behind', async () => {
    const other = await startWorld();
    let names: string[];
    try {
      names = other.service.app
        .get(ProviderRegistry)
        .list()
        .map((p) => p.strategyName);
      for (const provider of ['acme', 'google', 'facebook'] as const) {
        // Interleaved. A strategy shared by both would send one instance's sign-in to the other's stand-in and callback,
        // and the code it got back would not be one this instance can redeem.
        for (const service of [world.service, other.service, world.service]) {
          const browser = new TestBrowser();
          const { result, authorizeUrl } = await browserSignIn(browser, service.url, provider, { login: `twice-${provider}` });
          const own = service === world.service ? world : other;
          const standIn = provider === 'acme' ? own.acme : provider === 'google' ? own.google : own.facebook;
          expect(authorizeUrl.origin).toBe(new URL(standIn.url).origin);
          expect(authorizeUrl.searchParams.get('redirect_uri')).toBe(`${service.publicUrl}/auth/${provider}/callback`);
          expect((await exchangeCode(service.url, result.searchParams.get('code')!)).status).toBe(200);
        }
      }
      expect(other.service.serverErrors).toEqual([]);
    } finally {
      await other.close();
    }
    const registered = (name: string) => (passport as unknown as { _strategy(name: string): unknown })._strategy(name);
    expect(names.map(registered)).toEqual(names.map(() => undefined));
    for (const p of world.service.app.get(ProviderRegistry).list()) expect(registered(p.strategyName)).toBe(p.strategy);
    const { result } = await browserSignIn(new TestBrowser(), url, 'corp', { login: 'after-the-other' });
    expect(result.searchParams.get('code')).toEqual(expect.any(String));
  }, 60_000);
});
