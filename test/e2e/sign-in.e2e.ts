import { FacebookStrategy } from '../../src/auth/providers/facebook/facebook.strategy.js';
import { GoogleStrategy } from '../../src/auth/providers/google/google.strategy.js';
import { OIDC_STRATEGIES } from '../../src/auth/providers/oidc/oidc.module.js';
import type { OidcStrategy } from '../../src/auth/providers/oidc/oidc.strategy.js';
import { TestBrowser } from '../support/browser.js';
import { startService } from '../support/service.js';
import { browserSignIn, exchangeCode, getJson, signInAndGetTokens } from '../support/sign-in.js';
import { startWorld, type World } from '../support/world.js';

let world: World;
let url: string;

beforeAll(async () => {
  world = await startWorld();
  url = world.service.url;
});

afterAll(async () => {
  await world?.close();
});

afterEach(() => {
  // No response in the suite may be a 5xx.
  expect(world.service.serverErrors).toEqual([]);
});

describe('providers', () => {
  it('lists every enabled provider with its kind', async () => {
    const { body } = await getJson(`${url}/auth/providers`);
    expect(body).toEqual([
      { id: 'google', name: 'Google', type: 'google' },
      { id: 'facebook', name: 'Facebook', type: 'facebook' },
      { id: 'corp', name: 'Corp SSO', type: 'oidc' },
      { id: 'acme', name: 'acme', type: 'oidc' },
      { id: 'shady', name: 'shady', type: 'oidc' },
    ]);
  });

  it('answers an unknown provider with a 404 JSON error before any Passport code runs', async () => {
    const res = await fetch(`${url}/auth/github/login`, { redirect: 'manual' });
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: 'unknown_provider', error_description: expect.stringContaining('github') });
    expect(res.headers.get('set-cookie')).toBeNull();
  });

  it('builds no strategy for a provider that is not enabled, which is that same 404 at login, callback and the pages’ login', async () => {
    const acmeOnly = await startService({
      OIDC_PROVIDERS: 'acme',
      OIDC_ACME_ISSUER: world.acme.issuer,
      OIDC_ACME_CLIENT_ID: 'acme-client',
      OIDC_ACME_CLIENT_SECRET: 'acme-secret',
    });
    try {
      expect(acmeOnly.app.get(GoogleStrategy)).toBeNull();
      expect(acmeOnly.app.get(FacebookStrategy)).toBeNull();
      expect(acmeOnly.app.get<OidcStrategy[]>(OIDC_STRATEGIES).map((s) => s.providerId)).toEqual(['acme']);
      for (const [path, id] of [
        ['/auth/google/login', 'google'],
        ['/auth/facebook/callback?code=x&state=y', 'facebook'],
        ['/session/login/corp', 'corp'],
      ]) {
        const res = await fetch(`${acmeOnly.url}${path}`, { redirect: 'manual' });
        expect(res.status).toBe(404);
        expect(await res.json()).toEqual({ error: 'unknown_provider', error_description: `no sign-in provider "${id}" is enabled` });
        expect(res.headers.get('set-cookie')).toBeNull();
      }
      expect((await fetch(`${acmeOnly.url}/auth/acme/login`, { redirect: 'manual' })).status).toBe(302);
    } finally {
      await acmeOnly.close();
    }
  });
});

describe('Google (oidc-provider standing in, issuer https://accounts.google.com)', () => {
  it('F2, F9: signs in at an OP that requires PKCE and refuses query-string tokens, carries email_verified through, and hands the app a code', async () => {
    world.google.accounts.set('gina', { email: 'Gina@Example.test', email_verified: true, name: 'Gina G' });
    const browser = new TestBrowser();
    const { result, authorizeUrl } = await browserSignIn(browser, url, 'google', { login: 'gina' });
    expect(authorizeUrl.origin).toBe(world.google.url);
    expect(authorizeUrl.searchParams.get('code_challenge_method')).toBe('S256');
    expect(authorizeUrl.searchParams.get('nonce')).toMatch(/^[\w-]{43}$/);
    expect(authorizeUrl.searchParams.get('redirect_uri')).toBe(`${world.service.publicUrl}/auth/google/callback`);
    const code = result.searchParams.get('code')!;
    expect(code).toMatch(/^[\w-]{43}$/);
    const tokens = await exchangeCode(url, code);
    expect(tokens.status).toBe(200);
    expect(tokens.body).toEqual({
      access_token: expect.any(String),
      token_type: 'Bearer',
      expires_in: 900,
      refresh_token: expect.any(String),
    });
    const me = await getJson(`${url}/me`, tokens.body.access_token as string);
    expect(me.body).toMatchObject({ email: 'gina@example.test', emailVerified: true, name: 'Gina G', roles: ['user'] });
    expect(me.body.identities).toEqual([
      { id: expect.any(String), provider: 'google', subject: 'gina', email: 'gina@example.test', linkedAt: expect.any(String) },
    ]);
  });
});

describe('Facebook (local fake of the dialog, token and Graph /me)', () => {
  it('F9: signs in with appsecret_proof and the access token only in the Authorization header', async () => {
    const { me } = await signInAndGetTokens(new TestBrowser(), url, 'facebook', { login: 'fiona' });
    expect(me).toMatchObject({ email: 'fiona@fb.example.test', emailVerified: false, name: 'FB fiona' });
    expect(me.identities[0].provider).toBe('facebook');
    const graphCall = world.facebook.log.filter((l) => l.path.endsWith('/me')).at(-1)!;
    expect(graphCall.query.appsecret_proof).toMatch(/^[0-9a-f]{64}$/);
    expect(graphCall.query.access_token).toBeUndefined();
    expect(graphCall.authorization).toMatch(/^Bearer /);
  });

  it('works when the person declines the email permission', async () => {
    const { me } = await signInAndGetTokens(new TestBrowser(), url, 'facebook', { login: 'private-pat', declineEmail: true });
    expect(me).toMatchObject({ email: null, emailVerified: false, name: 'FB private-pat' });
  });
});

describe('generic OpenID Connect', () => {
  it('signs in with two OIDC providers at once, each to its own account', async () => {
    const [a, b] = await Promise.all([
      signInAndGetTokens(new TestBrowser(), url, 'corp', { login: 'olivia' }),
      signInAndGetTokens(new TestBrowser(), url, 'acme', { login: 'olivia' }),
    ]);
    expect(a.me.identities[0]).toMatchObject({ provider: 'corp', subject: 'olivia' });
    expect(b.me.identities[0]).toMatchObject({ provider: 'acme', subject: 'olivia' });
    expect(a.me.id).not.toBe(b.me.id);
  });
});
