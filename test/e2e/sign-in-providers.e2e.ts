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
