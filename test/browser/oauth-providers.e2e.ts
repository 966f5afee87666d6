/// <reference lib="dom" />
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { launchChromium, watchedPage } from '../support/chromium.js';
import { startGithubFake, type GithubFake } from '../support/github-fake.js';
import { freePort } from '../support/net.js';
import { startOAuth2Fake, type OAuth2Fake } from '../support/oauth2-fake.js';
import { startService, type RunningService } from '../support/service.js';

/**
 * The GitHub button and a generic OAuth 2.0 provider's button on the sign-in page, in a real browser (Debian's
 * Chromium through playwright-core), against the GitHub stand-in and a provider configured only by variables.
 */
let browser: Browser | undefined;
let github: GithubFake;
let chat: OAuth2Fake;
let service: RunningService;
let url: string;
const contexts: BrowserContext[] = [];
const SHOTS = process.env.UPDATE_SCREENSHOTS ? 'docs/screenshots' : mkdtempSync(join(tmpdir(), 'sls-shots-'));
let consoleErrors: string[][] = [];

async function newPage(): Promise<Page> {
  const context = await browser!.newContext({ viewport: { width: 1280, height: 860 } });
  contexts.push(context);
  const { page, errors } = await watchedPage(context, url);
  consoleErrors.push(errors);
  return page;
}

beforeAll(async () => {
  browser = await launchChromium();
  if (!browser) return;
  github = await startGithubFake({ clientId: 'gh-app', clientSecret: 'gh-secret' });
  chat = await startOAuth2Fake({
    id: 'chat',
    clientId: 'chat-client',
    clientSecret: 'chat-secret',
    auth: 'client_secret_basic',
    pkce: true,
  });
  const port = await freePort();
  github.callbackUrl = `http://127.0.0.1:${port}/auth/github/callback`;
  service = await startService({ ...github.env, OAUTH_PROVIDERS: 'chat', ...chat.env, OAUTH_CHAT_NAME: 'Chat' }, { port });
  url = service.url;
}, 60_000);

afterAll(async () => {
  for (const c of contexts) await c.close();
  await browser?.close();
  await service?.close();
  await github?.close();
  await chat?.close();
});

afterEach(() => {
  if (!browser) return;
  const errors = consoleErrors.flat();
  consoleErrors = [];
  expect(errors).toEqual([]);
  expect(service.serverErrors).toEqual([]);
});

const itWithBrowser = (name: string, fn: () => Promise<void>) =>
  it(
    name,
    async () => {
      if (!browser) return;
      await fn();
    },
    90_000,
  );

describe('sign-in page: GitHub and a generic OAuth 2.0 provider', () => {
  itWithBrowser(
    'shows the GitHub button in its brand’s colours with the GitHub mark, and the generic one with its configured label',
    async () => {
      const page = await newPage();
      await page.goto(`${url}/`);
      const buttons = await page.locator('.providers a').allTextContents();
      expect(buttons.map((b) => b.trim())).toEqual(['Continue with GitHub', 'Continue with Chat']);
      const gh = page.getByRole('link', { name: 'Continue with GitHub' });
      const style = await gh.evaluate((a) => {
        const s = getComputedStyle(a);
        return { background: s.backgroundColor, color: s.color, mark: a.querySelector('svg path')?.getAttribute('fill') };
      });
      expect(style).toEqual({ background: 'rgb(31, 35, 40)', color: 'rgb(255, 255, 255)', mark: '#fff' });
      await page.screenshot({ path: `${SHOTS}/sign-in-github.png` });
    },
  );

  it.each([
    ['GitHub', 'octo-browser'],
    ['Chat', 'chat-browser'],
  ])(
    'signs in through the %s button and lands on the account page, with no token in a URL or in storage',
    async (label, login) => {
      if (!browser) return;
      const page = await newPage();
      const urls: string[] = [];
      page.on('request', (r) => urls.push(r.url()));
      await page.goto(`${url}/`);
      await page.getByRole('link', { name: `Continue with ${label}` }).click();
      await page.locator('input[name="login"]').fill(login);
      await page.getByRole('button', { name: /^(Sign in|Continue)$/ }).click();
      await page.waitForURL(`${url}/account`);
      await page.getByRole('heading', { name: 'Sign-in methods' }).waitFor();
      await expect(page.locator('#profile').textContent()).resolves.toContain(login);
      expect(urls.filter((u) => /access_token|refresh_token|gho_/.test(u))).toEqual([]);
      expect(await page.evaluate(() => localStorage.length + sessionStorage.length)).toBe(0);
    },
    90_000,
  );
});
