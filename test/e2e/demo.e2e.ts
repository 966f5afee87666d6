import { TestBrowser } from '../support/browser.js';
import { getJson, signInAndGetTokens } from '../support/sign-in.js';
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

  it('is off in production', async () => {
    const { loadConfig } = await import('../../src/config/config.js');
    const config = loadConfig({ NODE_ENV: 'production', APP_SECRET: 'x'.repeat(40) });
    expect(config.demoIdp).toBe(false);
    expect(config.providers).toEqual([]);
  });
});
