import { DataSource } from 'typeorm';
import { Identity } from '../../src/accounts/identity.entity.js';
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
