import { TestBrowser } from '../support/browser.js';
import { completeAtProvider, getJson, signInAndGetTokens } from '../support/sign-in.js';
import { startService, type RunningService } from '../support/service.js';

/** The newcomer's path: no Google or Facebook credentials, only the built-in demo OpenID provider. */
describe('built-in demo identity provider', () => {
  let service: RunningService;

  beforeAll(async () => {
    service = await startService({ DEMO_IDP: 'true' });
  });

  afterAll(async () => {
    await service?.close();
  });

  it('is listed and shown on the home page, clearly marked', async () => {
    expect((await getJson(`${service.url}/auth/providers`)).body).toEqual([{ id: 'demo', name: 'Demo', type: 'oidc' }]);
    const page = await (await fetch(`${service.url}/`)).text();
    expect(page).toContain('Continue with Demo');
    expect(page).toContain('demo: any username');
  });

  it('signs any username in through a real OpenID provider in this process', async () => {
    const { me, tokens } = await signInAndGetTokens(new TestBrowser(), service.url, 'demo', { login: 'alice' });
    expect(me).toMatchObject({ name: 'alice', email: 'alice@demo.invalid', emailVerified: true });
    const claims = await getJson(`${service.url}/me/claims`, tokens.access_token);
    expect(claims.body).toMatchObject({ sub: me.id, iss: service.publicUrl, aud: service.publicUrl, roles: ['user'] });
    expect(service.serverErrors).toEqual([]);
  });

  it('F1: the pages spend their code only in the browser that started the sign-in (login CSRF), and want a CSRF token', async () => {
    const victim = new TestBrowser();
    const attacker = new TestBrowser();
    const { result } = await completeAtProvider(attacker, `${service.url}/session/login/demo`, (u) => u.includes('/session/callback'), {
      login: 'mallory',
    });
    // The attacker's code, planted in the victim's browser, is not spent there and signs nobody in.
    const planted = await victim.request(result.href);
    expect(planted.status).toBe(303);
    expect(planted.headers.get('location')).toBe('/?error=invalid_state');
    expect(planted.headers.getSetCookie().some((c) => c.startsWith('sls_session='))).toBe(false);
    // In the browser that started it, the same code signs in.
    const own = await attacker.request(result.href);
    expect(own.headers.get('location')).toBe('/account');
    const page = await attacker.request(`${service.url}/account`);
    const csrf = /<meta name="csrf-token" content="([^"]+)">/.exec(page.body)![1];
    expect((await attacker.request(`${service.url}/session/logout`, { method: 'POST' })).status).toBe(403);
    const withToken = await attacker.request(`${service.url}/session/logout`, { method: 'POST', headers: { 'x-csrf-token': csrf } });
    expect(withToken.status).toBe(204);
    expect((await attacker.request(`${service.url}/account`)).headers.get('location')).toBe('/');
  });

  it('shows any error code from a URL as a sentence, even an empty or prototype-named one, signed in or not', async () => {
    const browser = new TestBrowser();
    const { result } = await completeAtProvider(browser, `${service.url}/session/login/demo`, (u) => u.includes('/session/callback'), {
      login: 'err-codes',
    });
    expect((await browser.request(result.href)).headers.get('location')).toBe('/account');
    for (const code of ['', '__proto__', 'constructor', 'toString', 'x'.repeat(200)]) {
      const q = new URLSearchParams({ error: code });
      const signedOut = await fetch(`${service.url}/?${q}`);
      expect(signedOut.status).toBe(200);
      expect(await signedOut.text()).toContain('role="alert"');
      expect((await browser.request(`${service.url}/account?${q}`)).status).toBe(200);
    }
    expect(service.serverErrors).toEqual([]);
  });

  it("shows our sentence for the code, never a link's own error_description (content spoofing)", async () => {
    const q = new URLSearchParams({ error: 'access_denied', error_description: 'Your account is locked: call +1 555 0100' });
    const page = await (await fetch(`${service.url}/?${q}`)).text();
    expect(page).toContain('Sign-in was cancelled.');
    expect(page).toContain('Error code: access_denied');
    expect(page).not.toContain('555 0100');
  });

  it('is off in production', async () => {
    const { loadConfig } = await import('../../src/config/config.js');
    const config = loadConfig({ NODE_ENV: 'production', APP_SECRET: 'x'.repeat(40) });
    expect(config.demoIdp).toBe(false);
    expect(config.providers).toEqual([]);
  });
});
