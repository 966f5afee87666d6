import { spawn } from 'node:child_process';
import { TestBrowser } from '../support/browser.js';
import { freePort } from '../support/net.js';
import { completeAtProvider } from '../support/sign-in.js';
import { tempDatabase, TEST_APP_SECRET } from '../support/service.js';
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
    const port = await freePort();
    const child = spawn(process.execPath, ['dist/main.js'], {
      env: {
        ...process.env,
        ...world.env,
        NODE_OPTIONS: '',
        PORT: String(port),
        PUBLIC_URL: world.service.publicUrl,
        DATABASE_URL: `sqlite:${tempDatabase()}`,
        APP_SECRET: TEST_APP_SECRET,
        PROVIDER_TIMEOUT_MS: '1500',
      },
      stdio: 'ignore',
    });
    const exited = new Promise<number | null>((r) => child.once('exit', (code, signal) => r(code ?? (signal ? 128 : null))));
    const childUrl = `http://127.0.0.1:${port}`;
    for (let i = 0; i < 100; i++) {
      if (
        await fetch(`${childUrl}/health`).then(
          (r) => r.ok,
          () => false,
        )
      )
        break;
      await new Promise((r) => setTimeout(r, 50));
    }
    // The callback lands on the child, whose token request to "shady" hangs until PROVIDER_TIMEOUT_MS.
    world.proxy.tamper = 'token-hangs';
    const browser = new TestBrowser();
    browser.rewrite = (u) => u.replace(world.service.url, childUrl);
    const back = `${world.service.publicUrl}/`;
    const isBack = (u: string) => u.startsWith(back) && new URL(u).pathname === '/' && /[?&](code|error)=/.test(u);
    const inFlight = completeAtProvider(browser, `${childUrl}/auth/shady/login`, isBack, { login: 'leaving' });
    await new Promise((r) => setTimeout(r, 400));
    child.kill('SIGTERM');
    const { result } = await inFlight;
    expect(result.searchParams.get('error')).toBe('provider_unavailable');
    expect(await exited).not.toBeNull();
    await expect(fetch(`${childUrl}/health`)).rejects.toThrow();
    world.proxy.tamper = undefined;
  });
});
