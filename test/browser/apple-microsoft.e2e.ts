/// <reference lib="dom" />
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { startAppleStandIn, type AppleStandIn } from '../support/apple-stand-in.js';
import { launchChromium, watchedPage } from '../support/chromium.js';
import { guidOf, startMicrosoftStandIn, type MicrosoftStandIn } from '../support/microsoft-stand-in.js';
import { freePort } from '../support/net.js';
import { startService, type RunningService } from '../support/service.js';

/**
 * "Sign in with Apple" and "Sign in with Microsoft" in a real browser (Debian's Chromium). The Apple stand-in is
 * reached as http://localhost:…, the service as http://127.0.0.1:…: two sites, so Apple's form_post is a cross-site
 * POST for Chromium exactly as appleid.apple.com's is, and Chromium applies SameSite to it.
 */
let browser: Browser | undefined;
let service: RunningService;
let apple: AppleStandIn;
let ms: MicrosoftStandIn;
let url: string;
const contexts: BrowserContext[] = [];
let consoleErrors: string[][] = [];

beforeAll(async () => {
  browser = await launchChromium();
  if (!browser) return;
  const port = await freePort();
  const publicUrl = `http://127.0.0.1:${port}`;
  apple = await startAppleStandIn({ redirectUri: `${publicUrl}/auth/apple/callback` });
  ms = await startMicrosoftStandIn({
    clientId: 'ms-client',
    clientSecret: 'ms-secret',
    redirectUri: `${publicUrl}/auth/microsoft/callback`,
    tenant: guidOf('tenant:contoso'),
  });
  service = await startService({ ...apple.env(`http://localhost:${apple.port}`), ...ms.env() }, { port });
  url = service.url;
}, 60_000);

afterAll(async () => {
  for (const c of contexts) await c.close();
  await browser?.close();
  await service?.close();
  await apple?.close();
  await ms?.close();
});

afterEach(() => {
  if (!browser) return;
  const errors = consoleErrors.flat();
  consoleErrors = [];
  expect(errors).toEqual([]);
  expect(service.serverErrors).toEqual([]);
});

async function newPage(): Promise<Page> {
  const context = await browser!.newContext({ viewport: { width: 1280, height: 860 } });
  contexts.push(context);
  const { page, errors } = await watchedPage(context, url);
  consoleErrors.push(errors);
  return page;
}

const itWithBrowser = (name: string, fn: () => Promise<void>) =>
  it(
    name,
    async () => {
      if (!browser) return;
      await fn();
    },
    90_000,
  );

describe('the sign-in page', () => {
  itWithBrowser('shows Apple’s black "Sign in with Apple" and Microsoft’s four-square "Sign in with Microsoft"', async () => {
    const page = await newPage();
    await page.goto(`${url}/`);
    expect((await page.locator('.providers a').allTextContents()).map((t) => t.trim())).toEqual([
      'Sign in with Apple',
      'Sign in with Microsoft',
    ]);
    const appleButton = page.getByRole('link', { name: 'Sign in with Apple' });
    expect(await appleButton.evaluate((a) => [getComputedStyle(a).backgroundColor, getComputedStyle(a).color])).toEqual([
      'rgb(0, 0, 0)',
      'rgb(255, 255, 255)',
    ]);
    expect(await page.locator('.btn-microsoft svg rect').count()).toBe(4);
  });
});

describe('Sign in with Apple, form_post across sites', () => {
  itWithBrowser(
    'S3: Chromium leaves the Lax login cookie off Apple’s cross-site POST; our page posts again with it, and the person is signed in',
    async () => {
      const page = await newPage();
      const posts: Promise<{ url: string; cookie: string }>[] = [];
      page.on('request', (r) => {
        if (r.method() === 'POST' && r.url().startsWith(`${url}/auth/apple/callback`)) {
          posts.push(r.allHeaders().then((h) => ({ url: r.url(), cookie: h.cookie ?? '' })));
        }
      });
      await page.goto(`${url}/`);
      await page.getByRole('link', { name: 'Sign in with Apple' }).click();
      await page.waitForURL(/^http:\/\/localhost:/);
      await page.locator('input[name="login"]').fill('ada');
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.waitForURL(`${url}/account`);
      await page.getByRole('heading', { name: 'Sign-in methods' }).waitFor();
      await expect(page.locator('body').textContent()).resolves.toContain('First ada');
      const [crossSite, resumed] = await Promise.all(posts);
      expect(crossSite.url).toBe(`${url}/auth/apple/callback`);
      expect(crossSite.cookie).not.toMatch(/(^|; )login_/);
      expect(resumed.url).toBe(`${url}/auth/apple/callback/resume`);
      expect(resumed.cookie).toMatch(/(^|; )login_/);
      expect(apple.secretRefusals).toEqual([]);
    },
  );
});

describe('Sign in with Microsoft', () => {
  itWithBrowser('signs in through its button', async () => {
    const page = await newPage();
    await page.goto(`${url}/`);
    await page.getByRole('link', { name: 'Sign in with Microsoft' }).click();
    await page.locator('input[name="login"]').fill('worker');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(`${url}/account`);
    await expect(page.locator('body').textContent()).resolves.toContain('User worker');
  });
});
