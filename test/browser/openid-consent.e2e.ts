/// <reference lib="dom" />
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as oidc from 'openid-client';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { launchChromium, watchedPage } from '../support/chromium.js';
import { authorizationRequest, startOpenIdWorld, type OpenIdWorld } from '../support/relying-party.js';
import { callApi } from '../support/sign-in.js';

/**
 * The consent page and "Apps with access" in a real browser (Debian's Chromium through playwright-core): what the
 * person sees and clicks, under the pages' CSP, and a hostile page of another origin on this machine that makes the
 * person's browser post Allow (SECURITY.md O6).
 */
let op: OpenIdWorld;
let browser: Browser | undefined;
let url: string;
let attacker: Server;
let attackerUrl: string;
/** The client's redirect URI, at a tiny "app" on this machine (Chromium refuses the e2e tests’ port 9 as unsafe). */
let app: Server;
let appRedirect: string;
/** What the attacker's page posts, and where (set by each test). */
let forged = { action: '', fields: {} as Record<string, string> };
const contexts: BrowserContext[] = [];
let consoleErrors: string[][] = [];

async function newPage(): Promise<Page> {
  const context = await browser!.newContext({ viewport: { width: 1000, height: 800 } });
  contexts.push(context);
  const { page, errors } = await watchedPage(context, url);
  consoleErrors.push(errors);
  return page;
}

beforeAll(async () => {
  browser = await launchChromium();
  if (!browser) return;
  op = await startOpenIdWorld();
  url = op.url;
  // Another origin on this machine (same site, other port: SameSite does not hold it back, the CSRF token must).
  attacker = createServer((_req, res) => {
    const inputs = Object.entries(forged.fields)
      .map(([k, v]) => `<input type="hidden" name="${k}" value="${v}">`)
      .join('');
    res.setHeader('content-type', 'text/html');
    res.end(`<!doctype html><form method="post" action="${forged.action}">${inputs}</form><script>document.forms[0].submit()</script>`);
  });
  await new Promise<void>((resolve) => attacker.listen(0, '127.0.0.1', resolve));
  attackerUrl = `http://127.0.0.1:${(attacker.address() as AddressInfo).port}/`;
  app = createServer((_req, res) => res.end('the app'));
  await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve));
  appRedirect = `http://127.0.0.1:${(app.address() as AddressInfo).port}/app/callback`;
}, 60_000);

afterAll(async () => {
  for (const c of contexts) await c.close();
  await browser?.close();
  // Without Chromium, beforeAll started neither server: nothing to close (a `?.` here would never resolve).
  if (attacker) await new Promise((resolve) => attacker.close(resolve));
  if (app) await new Promise((resolve) => app.close(resolve));
  await op?.world.close();
});

afterEach(() => {
  if (!browser) return;
  const errors = consoleErrors.flat();
  consoleErrors = [];
  expect(errors).toEqual([]);
  expect(op.world.service.serverErrors).toEqual([]);
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

/** From the client's authorization URL, through our sign-in page and the company OP, to our consent page. */
async function toConsentPage(page: Page, authUrl: URL, login: string) {
  await page.goto(authUrl.href);
  await page.getByRole('link', { name: 'Continue with Corp SSO' }).click();
  await page.locator('input[name="login"]').fill(login);
  await page
    .getByRole('button', { name: /^(Sign in|Continue)$/ })
    .first()
    .click();
  await page.getByRole('heading', { level: 1 }).filter({ hasText: 'to access your account?' }).waitFor();
}

/** A person signs in to a newly registered third-party app, allowing it on our consent page; the app's tokens. */
async function allowApp(login: string, appName: string, onConsentPage?: (page: Page) => Promise<void>) {
  op.world.corp.accounts.set(login, { email: `${login}@corp.test`, email_verified: true, name: login[0].toUpperCase() + login.slice(1) });
  const rp = await op.relyingParty(await op.register({ name: appName, redirect_uris: [appRedirect] }));
  const page = await newPage();
  const attempt = await authorizationRequest(rp, { redirect_uri: appRedirect });
  await toConsentPage(page, attempt.url, login);
  await onConsentPage?.(page);
  const back = page.waitForURL(`${appRedirect}?**`);
  await page.getByRole('button', { name: 'Allow' }).click();
  await back;
  const tokens = await oidc.authorizationCodeGrant(rp, new URL(page.url()), {
    pkceCodeVerifier: attempt.verifier,
    expectedState: attempt.state,
    expectedNonce: attempt.nonce,
  });
  return { page, tokens };
}

describe('consent in a real browser', () => {
  itWithBrowser(
    'the person allows an app, then finds it under Apps with access, with its session under this browser, and revokes it',
    async () => {
      const { page, tokens } = await allowApp('dora', 'Grafana', async (consent) => {
        await expect(consent.getByRole('heading', { level: 1 }).textContent()).resolves.toBe('Allow Grafana to access your account?');
        await expect(consent.locator('#scopes').textContent()).resolves.toContain('Your name and picture');
      });

      await page.goto(`${url}/account`);
      const apps = page.locator('#apps li');
      await apps.first().waitFor();
      await expect(apps.first().textContent()).resolves.toContain('Grafana');
      await expect(apps.first().textContent()).resolves.toContain('name and picture');
      // This browser's row says which app it signed in to; the app's session follows it.
      await expect(page.locator('#sessions li').first().textContent()).resolves.toContain('→ signed in to Grafana');
      await page.getByRole('button', { name: 'Revoke access of Grafana' }).click();
      await page.locator('#apps li.why').waitFor();
      await expect(page.locator('#apps').textContent()).resolves.toContain('No application has access');
      expect((await callApi(url, 'GET', '/me', tokens.access_token)).status).toBe(401);
    },
  );

  itWithBrowser('an admin sees the apps a person allowed in the admin console and revokes one for them (audited)', async () => {
    const { tokens } = await allowApp('fay', 'Metabase');

    const admin = await newPage();
    await admin.goto(`${url}/`);
    await admin.getByRole('link', { name: 'Continue with Corp SSO' }).click();
    await admin.locator('input[name="login"]').fill('root');
    await admin
      .getByRole('button', { name: /^(Sign in|Continue)$/ })
      .first()
      .click();
    await admin.getByRole('link', { name: 'Admin console' }).click();
    await admin.waitForURL(`${url}/admin`);
    await admin.getByLabel('Find users').fill('fay@corp.test');
    await admin.getByRole('button', { name: 'Search' }).click();
    await admin.getByRole('button', { name: /^Open fay/ }).click();
    const apps = admin.locator('#user-apps li');
    await apps.first().waitFor();
    await expect(apps.first().textContent()).resolves.toContain('Metabase');
    await admin.getByRole('button', { name: 'Revoke access of Metabase' }).click();
    await admin.locator('#user-apps li.why').waitFor();
    await expect(admin.locator('#user-apps').textContent()).resolves.toContain('No application has access');
    // The app's session for her ended with it, and the audit trail names the admin.
    expect((await callApi(url, 'GET', '/me', tokens.access_token)).status).toBe(401);
    const audit = await callApi(url, 'GET', '/admin/audit?type=consent_revoked', op.adminToken);
    const row = (audit.body as { items: { userId: string; actorId: string }[] }).items[0];
    expect(row.actorId).not.toBe(row.userId);
  });

  itWithBrowser(
    'O6: a page of another origin that makes the person’s browser post Allow is refused; the person’s own Allow works',
    async () => {
      op.world.corp.accounts.set('eve-target', { email: 'target@corp.test', email_verified: true, name: 'Target' });
      const client = await op.register({ name: 'Wiki', redirect_uris: [appRedirect] });
      const rp = await op.relyingParty(client);
      const page = await newPage();
      await toConsentPage(page, (await authorizationRequest(rp, { redirect_uri: appRedirect })).url, 'eve-target');
      const action = await page.locator('form').getAttribute('action');
      // The attacker knows the interaction's URL and guesses a token; the person's browser opens the attacker's page.
      forged = { action: new URL(action!, url).href, fields: { decision: 'allow', csrf: 'forged' } };
      const hostile = await page.context().newPage();
      const answer = hostile.waitForResponse((r) => r.url() === forged.action);
      await hostile.goto(attackerUrl);
      expect((await answer).status()).toBe(403);
      await hostile.getByRole('heading', { name: 'This answer was not accepted' }).waitFor();
      // Even with the page's own token (had it leaked), another Origin is refused.
      forged.fields.csrf = (await page.locator('input[name="csrf"]').getAttribute('value'))!;
      const second = hostile.waitForResponse((r) => r.url() === forged.action);
      await hostile.goto(attackerUrl);
      expect((await second).status()).toBe(403);
      await hostile.close();
      // The person decides.
      const back = page.waitForURL(`${appRedirect}?**`);
      await page.getByRole('button', { name: 'Allow' }).click();
      await back;
      expect(new URL(page.url()).searchParams.get('code')).toEqual(expect.any(String));
    },
  );
});
