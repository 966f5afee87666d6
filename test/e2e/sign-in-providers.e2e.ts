import { DataSource } from 'typeorm';
import { Identity } from '../../src/accounts/identity.entity.js';
import { DomainError } from '../../src/common/domain-error.js';
import { ProviderRegistry } from '../../src/auth/providers/provider-registry.js';
import { TestBrowser } from '../support/browser.js';
import { browserSignIn } from '../support/sign-in.js';
import { startWorld, type World } from '../support/world.js';

/** What providers answer that the service must not take at face value (issue 15). */
let world: World;
let url: string;
/** An allowed returnTo that is not the built-in page, so "back at returnTo" and "back at the fallback" differ. */
let returnTo: string;

beforeAll(async () => {
  world = await startWorld();
  url = world.service.url;
  returnTo = `${world.service.publicUrl}/app/after-sign-in`;
});

afterAll(async () => {
  await world?.close();
});

afterEach(() => {
  world.facebook.meAnswer = undefined;
  world.proxy.tamper = undefined;
  expect(world.service.serverErrors).toEqual([]);
});

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

/** passport-facebook's own parts, as passport-oauth2 drives them: the Graph call and our verify callback. */
interface FacebookStrategyParts {
  userProfile(accessToken: string, cb: (err: unknown, profile?: unknown) => void): void;
  _verify(req: unknown, accessToken: string, refreshToken: string, profile: unknown, done: (...args: unknown[]) => void): void;
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
    // passport-oauth2 wraps the verify call in its own try/catch, which reports such a throw once, as an error.
    expect(() => strategy._verify({}, accessToken, '', profile, done)).toThrow('finishing the sign-in failed');
    expect(calls).toEqual([[null, expect.objectContaining({ provider: 'facebook', subject: expect.stringMatching(/^\d+$/) })]]);
  });

  it('once, with the error, when the profile mapping throws', async () => {
    world.facebook.meAnswer = { name: 'No Id' };
    const { strategy, accessToken, profile } = await strategyAndProfile('mapping-throws');
    const calls: unknown[][] = [];
    strategy._verify({}, accessToken, '', profile, (...args: unknown[]) => calls.push(args));
    expect(calls).toHaveLength(1);
    expect(calls[0]).toHaveLength(1);
    expect(calls[0][0]).toBeInstanceOf(DomainError);
    expect((calls[0][0] as DomainError).code).toBe('provider_error');
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

  /** Runs a sign-in up to the provider's redirect to our callback, without following it. */
  async function untilCallback(browser: TestBrowser, provider: string) {
    const isCallback = (u: string) => new URL(u).pathname === `/auth/${provider}/callback`;
    const start = await browser.request(`${url}/auth/${provider}/login?${new URLSearchParams({ returnTo })}`);
    const r = await browser.follow(start.headers.get('location')!, isCallback, undefined);
    const action = /action="([^"]+\/login)"/.exec(r.last.body)![1];
    const back = await browser.follow(new URL(action, r.last.url).href, isCallback, { method: 'POST', form: { login: 'someone' } });
    return new URL(back.stoppedAt!);
  }

  it.each(['acme', 'google'])(
    '%s: another error from the provider (temporarily_unavailable) → returnTo?error=provider_error',
    async (provider) => {
      const browser = new TestBrowser();
      const callback = await untilCallback(browser, provider);
      // The provider's own error response (RFC 6749 §4.1.2.1) for this very attempt: same state, no code.
      const failed = new URL(callback.origin + callback.pathname);
      failed.searchParams.set('error', 'temporarily_unavailable');
      failed.searchParams.set('error_description', 'try again later');
      failed.searchParams.set('state', callback.searchParams.get('state')!);
      if (callback.searchParams.has('iss')) failed.searchParams.set('iss', callback.searchParams.get('iss')!);
      const hop = await browser.request(failed.href);
      expect(outcome(new URL(hop.headers.get('location')!))).toEqual({ at: returnTo, error: 'provider_error', code: null });
    },
  );

  it('an error response whose state is not this browser’s goes to the built-in page, not to any returnTo', async () => {
    const callback = await untilCallback(new TestBrowser(), 'acme');
    const failed = new URL(callback.origin + callback.pathname);
    failed.searchParams.set('error', 'access_denied');
    failed.searchParams.set('state', callback.searchParams.get('state')!);
    failed.searchParams.set('iss', callback.searchParams.get('iss')!);
    const hop = await new TestBrowser().request(failed.href);
    expect(outcome(new URL(hop.headers.get('location')!))).toEqual({
      at: `${world.service.publicUrl}/`,
      error: 'invalid_state',
      code: null,
    });
  });
});
