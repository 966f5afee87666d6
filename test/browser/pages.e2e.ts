/// <reference lib="dom" />
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { AuditService } from '../../src/audit/audit.service.js';
import { launchChromium, watchedPage } from '../support/chromium.js';
import { insertUsers } from '../support/factories.js';
import { startWorld, type World } from '../support/world.js';

/**
 * The three pages in a real browser (Debian's Chromium through playwright-core) against the service and the stand-in
 * providers: what a person clicks, what they see, and that nothing reaches a script it should not.
 */
let world: World;
let browser: Browser | undefined;
let url: string;
const contexts: BrowserContext[] = [];
/** UPDATE_SCREENSHOTS=1 writes the README's screenshots; otherwise they go to a temporary folder (still taken). */
const SHOTS = process.env.UPDATE_SCREENSHOTS ? 'docs/screenshots' : mkdtempSync(join(tmpdir(), 'sls-shots-'));
/** Console errors of the pages opened by the running test; each test ends asserting there were none. */
let consoleErrors: string[][] = [];

/** A page in a browser context of its own (its own cookies: another person, or another device). */
async function newPage(viewport = { width: 1280, height: 860 }): Promise<Page> {
  const context = await browser!.newContext({ viewport });
  contexts.push(context);
  const { page, errors } = await watchedPage(context, url);
  consoleErrors.push(errors);
  return page;
}

/** Clicks "Continue with <label>" on the sign-in page and signs in at the stand-in as `login`. */
async function signIn(page: Page, label: string, login: string) {
  await page.goto(`${url}/`);
  await page.getByRole('link', { name: `Continue with ${label}` }).click();
  await completeAtProvider(page, login);
  await page.waitForURL(`${url}/account`);
  await page.getByRole('heading', { name: 'Sign-in methods' }).waitFor();
}

/** On the account page: "Link another provider", then the provider's own page, back to the account page. */
async function linkProvider(page: Page, label: string, login: string) {
  await page.getByLabel('Link another provider').selectOption({ label });
  await page.getByRole('button', { name: 'Link', exact: true }).click();
  await completeAtProvider(page, login);
  await page.waitForURL(`${url}/account`);
}

async function completeAtProvider(page: Page, login: string, cancel = false) {
  await page.locator('input[name="login"]').fill(login);
  await page
    .getByRole('button', { name: cancel ? 'Cancel' : /^(Sign in|Continue)$/ })
    .first()
    .click();
}

beforeAll(async () => {
  browser = await launchChromium();
  if (!browser) return;
  world = await startWorld({ ADMIN_EMAILS: 'root@corp.test,chief@corp.test', OIDC_PROVIDERS: 'corp', DEMO_IDP: 'true' });
  world.corp.accounts.set('root', { email: 'root@corp.test', email_verified: true, name: 'Ada Admin' });
  url = world.service.url;
}, 60_000);

afterAll(async () => {
  for (const c of contexts) await c.close();
  await browser?.close();
  await world?.close();
});

afterEach(() => {
  if (!browser) return;
  const errors = consoleErrors.flat();
  consoleErrors = [];
  expect(errors).toEqual([]);
  expect(world.service.serverErrors).toEqual([]);
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

describe('sign-in page', () => {
  itWithBrowser('offers each provider in its brand conventions, the demo clearly marked, and works from the keyboard', async () => {
    const page = await newPage();
    await page.goto(`${url}/`);
    const buttons = await page.locator('.providers a').allTextContents();
    expect(buttons.map((b) => b.trim())).toEqual([
      'Continue with Google',
      'Continue with Facebook',
      'Continue with Demo',
      'Continue with Corp SSO',
    ]);
    await expect(page.locator('#demo-note').textContent()).resolves.toContain('demo: any username');
    const csp = (await page.request.get(`${url}/`)).headers()['content-security-policy'];
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain('unsafe-inline');
    await page.screenshot({ path: `${SHOTS}/sign-in.png` });
    // Keyboard only: Tab to the first provider, Enter.
    await page.keyboard.press('Tab');
    await expect(page.evaluate(() => document.activeElement?.textContent?.trim())).resolves.toBe('Continue with Google');
    await page.keyboard.press('Enter');
    await page.locator('input[name="login"]').waitFor();
    const phone = await newPage({ width: 375, height: 740 });
    await phone.goto(`${url}/`);
    expect(await phone.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(375);
    await phone.screenshot({ path: `${SHOTS}/sign-in-phone.png` });
  });

  it.each([
    ['Google', 'gina'],
    ['Facebook', 'fred'],
    ['Corp SSO', 'carl'],
    ['Demo', 'dora'],
  ])(
    'signs in with %s and lands on the account page, with no token in a URL or in storage',
    async (label, login) => {
      if (!browser) return;
      const page = await newPage();
      const urls: string[] = [];
      page.on('request', (r) => urls.push(r.url()));
      await signIn(page, label, login);
      await expect(page.locator('#profile').textContent()).resolves.toContain(login);
      expect(urls.filter((u) => /access_token|refresh_token|id_token=/.test(u))).toEqual([]);
      expect(await page.evaluate(() => localStorage.length + sessionStorage.length)).toBe(0);
      const cookie = (await page.context().cookies(url)).find((c) => c.name === 'sls_session')!;
      expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Lax', path: '/' });
      expect(await page.evaluate(() => document.cookie)).not.toContain('sls_session');
    },
    90_000,
  );

  itWithBrowser('shows a readable message for an error redirect (consent declined at the provider)', async () => {
    const page = await newPage();
    await page.goto(`${url}/`);
    await page.getByRole('link', { name: 'Continue with Corp SSO' }).click();
    await completeAtProvider(page, 'quitter', true);
    await page.waitForURL(/\/\?error=access_denied/);
    await expect(page.getByRole('alert').textContent()).resolves.toContain('Sign-in was cancelled');
  });
});

describe('account page', () => {
  itWithBrowser('links a second provider and unlinks it; the last one cannot be unlinked, and says why', async () => {
    const page = await newPage();
    await signIn(page, 'Google', 'linda');
    await linkProvider(page, 'Facebook', 'linda-fb');
    await expect(page.locator('#status').textContent()).resolves.toContain('linked');
    await page.locator('#identities li').nth(1).waitFor();
    expect(await page.locator('#identities li').count()).toBe(2);
    await page.screenshot({ path: `${SHOTS}/account.png`, fullPage: true });
    await page.getByRole('button', { name: /Unlink Facebook/ }).click();
    await page.waitForFunction(() => document.querySelectorAll('#identities li').length === 1);
    const last = page.getByRole('button', { name: /Unlink Google/ });
    expect(await last.isDisabled()).toBe(true);
    await expect(page.locator('#identities').textContent()).resolves.toContain('Your only sign-in method cannot be removed');
  });

  itWithBrowser('signs out everywhere: this browser and another one are both signed out', async () => {
    const laptop = await newPage();
    const phone = await newPage();
    await signIn(laptop, 'Facebook', 'everywhere');
    await signIn(phone, 'Facebook', 'everywhere');
    await laptop.reload();
    await laptop.locator('#sessions li').nth(1).waitFor();
    await laptop.getByRole('button', { name: 'Sign out everywhere' }).click();
    await laptop.waitForURL(`${url}/`);
    await phone.goto(`${url}/account`);
    await phone.waitForURL(`${url}/`);
    await expect(phone.getByRole('heading', { level: 1 }).textContent()).resolves.toBe('Sign in');
  });

  itWithBrowser('L1: a link URL from the account page works only in its requester’s browser', async () => {
    world.corp.accounts.set('chief', { email: 'chief@corp.test', email_verified: true, name: 'Chief' });
    const attacker = await newPage();
    await signIn(attacker, 'Google', 'mallory');
    // The attacker starts "Link another provider" and keeps the URL instead of following it.
    await attacker.route('**/auth/corp/login?**', (route) => route.abort());
    const linkRequest = attacker.waitForRequest((r) => r.url().includes('link_ticket='));
    await attacker.getByLabel('Link another provider').selectOption({ label: 'Corp SSO' });
    await attacker.getByRole('button', { name: 'Link', exact: true }).click();
    const linkUrl = (await linkRequest).url();
    // Chromium reports the aborted navigation: that one is the point of this test.
    consoleErrors.at(-1)!.splice(0);

    // A victim who is signed in here as themselves opens it: refused, shown on their own account page.
    const signedInVictim = await newPage();
    await signIn(signedInVictim, 'Facebook', 'vera');
    await signedInVictim.goto(linkUrl);
    // The account page shows the notice, then tidies its own URL.
    await signedInVictim.waitForURL(`${url}/account`);
    await expect(signedInVictim.locator('#status').textContent()).resolves.toContain('works only in the browser');

    // A fresh browser opens it (the ticket was spent by the first try; a fresh URL for this one).
    await attacker.goto(`${url}/account`);
    await attacker.getByLabel('Link another provider').selectOption({ label: 'Corp SSO' });
    const secondRequest = attacker.waitForRequest((r) => r.url().includes('link_ticket='));
    await attacker.getByRole('button', { name: 'Link', exact: true }).click();
    const secondUrl = (await secondRequest).url();
    consoleErrors.at(-1)!.splice(0);
    const victim = await newPage();
    await victim.goto(secondUrl);
    await victim.waitForURL(`${url}/?error=not_logged_in`);
    await expect(victim.getByRole('alert').textContent()).resolves.toContain('works only in the browser');
    // The victim signs in with their admin identity: their own account, admin; the attacker's is unchanged.
    await victim.getByRole('link', { name: 'Continue with Corp SSO' }).click();
    await completeAtProvider(victim, 'chief');
    await victim.waitForURL(`${url}/account`);
    await expect(victim.getByRole('link', { name: 'Admin console' }).count()).resolves.toBe(1);
    await attacker.unroute('**/auth/corp/login?**');
    await attacker.goto(`${url}/account`);
    await attacker.locator('#identities li').first().waitFor();
    expect(await attacker.locator('#identities li').count()).toBe(1);
    await expect(attacker.locator('#profile').textContent()).resolves.toContain('mallory');
    await expect(attacker.getByRole('link', { name: 'Admin console' }).count()).resolves.toBe(0);
  });

  itWithBrowser('labels the sign-out of this device and of the others apart, and signs out only the one chosen', async () => {
    const laptop = await newPage();
    const phone = await newPage();
    await signIn(laptop, 'Demo', 'two-devices');
    await signIn(phone, 'Demo', 'two-devices');
    await laptop.reload();
    await laptop.locator('#sessions li').nth(1).waitFor();
    const mine = laptop.locator('#sessions li').filter({ has: laptop.locator('.current') });
    const other = laptop.locator('#sessions li').filter({ hasNot: laptop.locator('.current') });
    expect(await mine.count()).toBe(1);
    expect(await other.count()).toBe(1);
    await expect(mine.getByRole('button').textContent()).resolves.toBe('Sign out this device');
    await expect(other.getByRole('button').textContent()).resolves.toBe('Sign out');
    await other.getByRole('button').click();
    await laptop.waitForFunction(() => document.querySelectorAll('#sessions li').length === 1);
    expect(await mine.count()).toBe(1);
    await phone.goto(`${url}/account`);
    await phone.waitForURL(`${url}/`);
  });

  itWithBrowser('"Link another provider" offers first a provider not linked yet, and says when every one is', async () => {
    const page = await newPage();
    const offered = () => page.locator('#link-provider option:checked').textContent();
    await signIn(page, 'Google', 'collector');
    await page.locator('#identities li').first().waitFor();
    await expect(offered()).resolves.toBe('Facebook');
    await expect(page.locator('#link-note').isHidden()).resolves.toBe(true);
    await linkProvider(page, 'Facebook', 'collector-fb');
    await page.locator('#identities li').nth(1).waitFor();
    await expect(offered()).resolves.toBe('Demo');
    await linkProvider(page, 'Demo', 'collector-demo');
    await page.locator('#identities li').nth(2).waitFor();
    await expect(offered()).resolves.toBe('Corp SSO');
    await linkProvider(page, 'Corp SSO', 'collector-corp');
    await page.locator('#identities li').nth(3).waitFor();
    await expect(page.locator('#link-note').textContent()).resolves.toBe(
      'Every provider is linked already; you can still link another account of one of them.',
    );
    await expect(page.locator('#link-note').isVisible()).resolves.toBe(true);
  });

  itWithBrowser('shows a readable message when an error response is not JSON (a proxy’s 502 page)', async () => {
    const page = await newPage();
    await page.route('**/me/sessions', (route) =>
      route.fulfill({ status: 502, contentType: 'text/html', body: '<html><body><h1>502 Bad Gateway</h1></body></html>' }),
    );
    await signIn(page, 'Demo', 'behind-a-proxy');
    await page.waitForFunction(() => document.getElementById('status')?.textContent);
    await expect(page.locator('#status').textContent()).resolves.toBe(
      'The service did not answer as expected (HTTP 502). Please try again in a moment.',
    );
    await expect(page.locator('#status').getAttribute('class')).resolves.toBe('error');
    // Chromium reports the 502 in the console: that one is the point of this test.
    expect(consoleErrors.at(-1)!.splice(0)).toEqual([expect.stringContaining('502')]);
  });

  itWithBrowser('refuses a state-changing request made with the cookie but without the CSRF token', async () => {
    const page = await newPage();
    await signIn(page, 'Demo', 'csrf-target');
    const forged = await page.request.post(`${url}/session/logout`, { headers: { origin: url } });
    expect(forged.status()).toBe(403);
    const crossSite = await page.request.delete(`${url}/me/sessions`, { headers: { origin: 'http://evil.invalid' } });
    expect(crossSite.status()).toBe(401);
    await page.reload();
    await expect(page.getByRole('heading', { level: 1 }).textContent()).resolves.toBe('Your account');
  });
});

describe('admin console', () => {
  itWithBrowser('is for admins only', async () => {
    const page = await newPage();
    await signIn(page, 'Google', 'not-an-admin');
    const res = await page.goto(`${url}/admin`);
    expect(res!.status()).toBe(403);
    // Chromium reports a 403 document in the console: that one is the point of this test.
    expect(consoleErrors.at(-1)!.splice(0)).toEqual([expect.stringContaining('403 (Forbidden)')]);
    await expect(page.getByRole('heading', { level: 1 }).textContent()).resolves.toBe('Not allowed');
  });

  itWithBrowser('an admin finds a user, removes an identity, disables them, and their next page load is signed out', async () => {
    const victim = await newPage();
    await signIn(victim, 'Google', 'victor');
    await linkProvider(victim, 'Facebook', 'victor-fb');

    const admin = await newPage();
    await signIn(admin, 'Corp SSO', 'root');
    await admin.getByRole('link', { name: 'Admin console' }).click();
    await admin.waitForURL(`${url}/admin`);
    await admin.getByLabel('Find users').fill('victor');
    await admin.getByRole('button', { name: 'Search' }).click();
    await admin.getByRole('button', { name: /^Open victor/ }).click();
    await admin.locator('#user-identities li').nth(1).waitFor();
    await admin.getByRole('button', { name: /Remove identity facebook/ }).click();
    await admin.waitForFunction(() => document.querySelectorAll('#user-identities li').length === 1);
    await admin.getByRole('button', { name: 'Disable user' }).click();
    await admin.getByRole('button', { name: 'Enable user' }).waitFor();
    await expect(admin.locator('#user-facts').textContent()).resolves.toContain('disabled');
    await admin.getByLabel('Event type').fill('user_disabled');
    await admin.getByRole('button', { name: 'Filter' }).click();
    await admin.waitForFunction(() => document.querySelector('#audit')?.textContent?.includes('user_disabled'));
    await admin.getByLabel('Event type').fill('');
    await admin.getByRole('button', { name: 'Filter' }).click();
    await admin.waitForFunction(() => document.querySelector('#audit')?.textContent?.includes('identity_unlinked'));
    await admin.screenshot({ path: `${SHOTS}/admin.png`, fullPage: true });

    await victim.reload();
    await victim.waitForURL(`${url}/`);
    await expect(victim.getByRole('heading', { level: 1 }).textContent()).resolves.toBe('Sign in');
  });

  itWithBrowser('an admin creates an OpenID client with its metadata, edits it, disables and deletes it', async () => {
    const admin = await newPage();
    await signIn(admin, 'Corp SSO', 'root');
    await admin.goto(`${url}/admin`);
    await admin.getByLabel('Name', { exact: true }).fill('Console Wiki');
    await admin.getByLabel(/^Redirect URIs/).fill('https://wiki.test/cb\nhttp://127.0.0.1:8080/cb');
    await admin.getByLabel(/^Post-logout redirect URIs/).fill('https://wiki.test/bye');
    await admin.getByLabel('Token endpoint authentication').selectOption('client_secret_post');
    await admin.getByLabel('Back-channel logout URI').fill('https://wiki.test/bcl');
    await admin.getByRole('checkbox', { name: /First party/ }).check();
    await admin.getByRole('button', { name: 'Create client' }).click();
    await admin.locator('#client-secret code').nth(1).waitFor();
    const clientId = await admin.locator('#client-secret code').first().textContent();
    const created = (await (
      await admin.request.get(`${url}/admin/clients/${clientId}`, { headers: { accept: 'application/json' } })
    ).json()) as Record<string, unknown>;
    expect(created).toMatchObject({
      name: 'Console Wiki',
      redirect_uris: ['https://wiki.test/cb', 'http://127.0.0.1:8080/cb'],
      post_logout_redirect_uris: ['https://wiki.test/bye'],
      grant_types: ['authorization_code', 'refresh_token'],
      token_endpoint_auth_method: 'client_secret_post',
      backchannel_logout_uri: 'https://wiki.test/bcl',
      first_party: true,
    });

    await admin.getByRole('button', { name: 'Edit client Console Wiki' }).click();
    await expect(admin.getByLabel(/^Redirect URIs/).inputValue()).resolves.toBe('https://wiki.test/cb\nhttp://127.0.0.1:8080/cb');
    await expect(admin.getByLabel('Token endpoint authentication').isDisabled()).resolves.toBe(true);
    await admin.getByLabel(/^Post-logout redirect URIs/).fill('https://wiki.test/bye\nhttps://wiki.test/bye2');
    await admin.getByRole('checkbox', { name: /First party/ }).uncheck();
    await admin.getByRole('button', { name: 'Save client' }).click();
    await admin.getByRole('button', { name: 'Create client' }).waitFor();
    const read = async () =>
      (await (await admin.request.get(`${url}/admin/clients/${clientId}`, { headers: { accept: 'application/json' } })).json()) as Record<
        string,
        unknown
      >;
    expect(await read()).toMatchObject({
      post_logout_redirect_uris: ['https://wiki.test/bye', 'https://wiki.test/bye2'],
      first_party: false,
      backchannel_logout_uri: 'https://wiki.test/bcl',
      token_endpoint_auth_method: 'client_secret_post',
    });

    await admin.getByRole('button', { name: 'Disable client Console Wiki' }).click();
    await admin.getByRole('button', { name: 'Enable client Console Wiki' }).waitFor();
    expect((await read()).disabled).toBe(true);
    await admin.getByRole('button', { name: 'Delete client Console Wiki' }).click();
    await admin.getByRole('button', { name: 'Edit client Console Wiki' }).waitFor({ state: 'detached' });
  });

  itWithBrowser('"Next page" continues the list its cursor came from, whatever has been typed in the filters since', async () => {
    const admin = await newPage();
    await signIn(admin, 'Corp SSO', 'root');
    // 25 users match "pager-alpha", 25 "pager-beta", interleaved in time; 30 role_changed events, newer than any sign_in;
    // the newest event is another, so the unfiltered list is not the filtered one.
    const start = Date.now() - 60_000;
    await insertUsers(world.service.app, 50, (i) => ({
      email: `pager-${i % 2 ? 'beta' : 'alpha'}-${i}@example.test`,
      createdAt: start + i,
    }));
    const audit = world.service.app.get(AuditService);
    for (let i = 0; i < 30; i++) await audit.record({ type: 'role_changed', reason: `pager ${i}` });
    await audit.record({ type: 'user_enabled' });
    await admin.goto(`${url}/admin`);

    await admin.getByLabel('Find users').fill('pager-alpha');
    await admin.getByRole('button', { name: 'Search' }).click();
    await admin.waitForFunction(() => {
      const rows = Array.from(document.querySelectorAll('#users tr'));
      return rows.length === 20 && rows.every((tr) => tr.textContent!.startsWith('pager-alpha-'));
    });
    await admin.getByLabel('Find users').fill('pager-beta');
    await admin.locator('#more-users').click();
    await admin.locator('#more-users').waitFor({ state: 'hidden' });
    const emails = await admin.locator('#users tr td:first-child').allTextContents();
    expect(emails).toHaveLength(25);
    expect(emails.filter((e) => !e.startsWith('pager-alpha-'))).toEqual([]);

    await admin.getByLabel('Event type').fill('role_changed');
    await admin.getByRole('button', { name: 'Filter' }).click();
    await admin.waitForFunction(() => document.querySelector('#audit tr')?.textContent?.includes('pager 29'));
    await admin.getByLabel('Event type').fill('sign_in');
    await admin.locator('#more-audit').click();
    await admin.locator('#more-audit').waitFor({ state: 'hidden' });
    const types = await admin.locator('#audit tr td:nth-child(2)').allTextContents();
    expect(types).toEqual(Array(30).fill('role_changed'));
  });
});
