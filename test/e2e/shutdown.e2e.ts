import { TestBrowser } from '../support/browser.js';
import { completeAtProvider } from '../support/sign-in.js';
import { startServiceProcess } from '../support/process.js';
import { tempDatabase } from '../support/service.js';
import { startWorld, type World } from '../support/world.js';

/** SIGTERM to the built service (`node dist/main.js`) while a request is in flight: it completes, then the process ends. */
describe('graceful shutdown', () => {
  let world: World;

  beforeAll(async () => {
    world = await startWorld();
  });

  afterAll(async () => {
    await world?.close();
  });

  it('finishes in-flight requests on SIGTERM and exits', async () => {
    const child = await startServiceProcess({
      ...world.env,
      PUBLIC_URL: world.service.publicUrl,
      DATABASE_URL: `sqlite:${tempDatabase()}`,
      PROVIDER_TIMEOUT_MS: '1500',
    });
    const childUrl = child.url;
    // The callback lands on the child, whose token request to "shady" hangs until PROVIDER_TIMEOUT_MS.
    world.proxy.tamper = 'token-hangs';
    const browser = new TestBrowser();
    browser.rewrite = (u) => u.replace(world.service.url, childUrl);
    const back = `${world.service.publicUrl}/`;
    const isBack = (u: string) => u.startsWith(back) && new URL(u).pathname === '/' && /[?&](code|error)=/.test(u);
    // SIGTERM only once the child's token request is held open at the provider: the callback is then in flight on
    // the child (a fixed wait here raced a slow machine, where the callback had not yet arrived and met a closed port).
    const hung = world.proxy.nextHungTokenRequest();
    const inFlight = completeAtProvider(browser, `${childUrl}/auth/shady/login`, isBack, { login: 'leaving' });
    await hung;
    const stopped = child.stop('SIGTERM');
    const { result } = await inFlight;
    expect(result.searchParams.get('error')).toBe('provider_unavailable');
    await stopped;
    await expect(fetch(`${childUrl}/health`)).rejects.toThrow();
    world.proxy.tamper = undefined;
  });
});
