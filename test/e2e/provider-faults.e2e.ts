import { TestBrowser } from '../support/browser.js';
import { browserSignIn } from '../support/sign-in.js';
import { startWorld, type World } from '../support/world.js';

/** A provider that is down or never answers: an error redirect after PROVIDER_TIMEOUT_MS, never a hang. */
describe('providers that are down or slow', () => {
  let world: World;

  beforeAll(async () => {
    // Google's token endpoint points at a closed port; "shady" answers everything but its token endpoint.
    world = await startWorld({ PROVIDER_TIMEOUT_MS: '800', GOOGLE_TOKEN_URL: 'http://127.0.0.1:1/token' });
  });

  afterAll(async () => {
    await world?.close();
  });

  afterEach(() => {
    world.proxy.tamper = undefined;
    expect(world.service.serverErrors).toEqual([]);
  });

  it('reports provider_unavailable for a provider that cannot be reached', async () => {
    const { result } = await browserSignIn(new TestBrowser(), world.service.url, 'google', { login: 'gone' });
    expect(result.searchParams.get('error')).toBe('provider_unavailable');
  });

  it('gives up on a provider that never answers after the timeout', async () => {
    world.proxy.tamper = 'token-hangs';
    const start = Date.now();
    const { result } = await browserSignIn(new TestBrowser(), world.service.url, 'shady', { login: 'waiting' });
    const took = Date.now() - start;
    expect(result.searchParams.get('error')).toBe('provider_unavailable');
    expect(took).toBeGreaterThanOrEqual(800);
    expect(took).toBeLessThan(5000);
  });
});
