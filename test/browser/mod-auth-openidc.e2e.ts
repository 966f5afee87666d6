import type { Browser, BrowserContext, Page } from 'playwright-core';
import { apacheMissing, apacheRpAddress, startApacheRp, withApacheLog, type ApacheRp } from '../support/apache-rp.js';
import { launchChromium, watchedPage } from '../support/chromium.js';
import { startOpenIdWorld, type OpenIdWorld } from '../support/relying-party.js';
import { callApi, getJson } from '../support/sign-in.js';
import { within } from '../support/within.js';

/**
 * Apache httpd with mod_auth_openidc, an OpenID-certified relying party, signs people in to its /protected/ page
 * through the service as OpenID Provider, in Debian's Chromium: our sign-in page, the company provider (a stand-in
 * on 127.0.0.1), SSO, RP-initiated logout and back-channel logout. Its configuration is the README's example,
 * examples/mod_auth_openidc/protected.conf (test/support/apache-rp.ts).
 */
let op: OpenIdWorld;
let url: string;
let rp: ApacheRp;
let clientId: string;
let browser: Browser | undefined;
const contexts: BrowserContext[] = [];
let consoleErrors: string[][] = [];
const skipped = apacheMissing();

async function newPage(): Promise<Page> {
  const context = await browser!.newContext();
  contexts.push(context);
  const { page, errors } = await watchedPage(context, url);
  consoleErrors.push(errors);
  return page;
}

/** Our user id for an email, through the admin API. */
async function userId(email: string): Promise<string> {
  const res = await callApi(url, 'GET', `/admin/users?query=${encodeURIComponent(email)}`, op.adminToken);
  const items = (res.body as { items: { id: string; email: string }[] }).items.filter((u) => u.email === email);
  expect(items).toHaveLength(1);
  return items[0].id;
}

/** The details of a person's audit rows of one type. */
async function auditDetails(userId: string, type: string): Promise<Record<string, unknown>[]> {
  const res = await callApi(url, 'GET', `/admin/audit?userId=${userId}&type=${type}`, op.adminToken);
  return (res.body.items as { details: Record<string, unknown> }[]).map((e) => e.details);
}

/** At the provider's page (the company stand-in or the demo): the username, then its submit button. */
async function completeAtProvider(page: Page, login: string) {
  await page.locator('input[name="login"]').fill(login);
  await page
    .getByRole('button', { name: /^(Sign in|Continue)$/ })
    .first()
    .click();
}

/** Opens the protected page in a browser signed in nowhere: our sign-in page, the provider, back with the claims. */
async function signInAtApache(page: Page, label: string, login: string) {
  await page.goto(rp.protectedUrl);
  await page.waitForURL(`${url}/interaction/**`);
  await page.getByRole('heading', { name: 'Sign in', level: 1 }).waitFor();
  await page.getByRole('link', { name: `Continue with ${label}` }).click();
  await completeAtProvider(page, login);
  await page.waitForURL(rp.protectedUrl);
  await page.getByRole('heading', { name: 'Signed in' }).waitFor();
}

const claim = (page: Page, name: string) => page.locator(`#${name}`).textContent();

const itWithApache = (name: string, fn: () => Promise<void>) =>
  it(
    name,
    async () => {
      if (!browser || skipped) return;
      await withApacheLog(rp, fn);
    },
    90_000,
  );

beforeAll(async () => {
  if (skipped) {
    console.warn(`SKIPPED: ${skipped}`);
    if (process.env.REQUIRE_SERVICES) throw new Error(`Apache with mod_auth_openidc is required in CI: ${skipped}`);
    return;
  }
  browser = await launchChromium();
  if (!browser) return;
  // The demo provider too: a person signing in there is sent on to Apache, another origin (its CSP).
  op = await startOpenIdWorld({ DEMO_IDP: 'true' });
  url = op.url;
  op.world.corp.accounts.set('carol', { email: 'carol@corp.test', email_verified: true, name: 'Carol Example' });
  op.world.corp.accounts.set('olga', { email: 'olga@corp.test', email_verified: true, name: 'Olga' });
  const address = await apacheRpAddress();
  const client = await op.register({
    name: 'Apache wiki',
    redirect_uris: [address.redirectUri],
    post_logout_redirect_uris: [address.loggedOutUrl],
    backchannel_logout_uri: address.backchannelLogoutUri,
    first_party: true,
  });
  clientId = client.client_id;
  rp = await startApacheRp(address, { issuer: op.world.service.publicUrl, clientId, clientSecret: client.client_secret });
}, 90_000);

afterAll(async () => {
  for (const c of contexts) await c.close();
  await browser?.close();
  await rp?.close();
  await op?.world.close();
});

afterEach(() => {
  if (!browser || skipped) return;
  const errors = consoleErrors.flat();
  consoleErrors = [];
  expect(errors).toEqual([]);
  expect(op.world.service.serverErrors).toEqual([]);
});

describe('Apache mod_auth_openidc as a client of our OpenID Provider', () => {
  itWithApache(
    'O4: signs a person in at the protected page through our sign-in page and the company provider; the page shows their claims, sub our user id',
    async () => {
      const page = await newPage();
      const requests: string[] = [];
      page.on('request', (r) => requests.push(r.url()));
      await signInAtApache(page, 'Corp SSO', 'carol');
      // mod_auth_openidc verified our ID token (signature by our JWKS, iss, aud, nonce, exp) and asked UserInfo.
      expect(await claim(page, 'sub')).toBe(await userId('carol@corp.test'));
      expect(await claim(page, 'email')).toBe('carol@corp.test');
      expect(await claim(page, 'name')).toBe('Carol Example');
      // The authorization request: code flow with PKCE S256, state and nonce (protected.conf).
      const auth = new URL(requests.find((u) => u.startsWith(`${url}/oidc/auth?`))!);
      expect(Object.fromEntries(auth.searchParams)).toMatchObject({
        response_type: 'code',
        code_challenge_method: 'S256',
        redirect_uri: rp.redirectUri,
        scope: 'openid email profile',
      });
      expect(auth.searchParams.get('state')).toBeTruthy();
      expect(auth.searchParams.get('nonce')).toBeTruthy();
      // No token ever travels in a URL the browser sees: only the code does.
      expect(requests.filter((u) => /access_token|id_token=|refresh_token/.test(u))).toEqual([]);
    },
  );

  itWithApache('SSO: a second visit, with Apache’s session gone, goes through us without a sign-in page', async () => {
    const page = await newPage();
    await signInAtApache(page, 'Corp SSO', 'carol');
    const sub = await claim(page, 'sub');
    // Apache forgets the person (its cookies go); the browser session here stays.
    await page.context().clearCookies({ name: /^mod_auth_openidc/ });
    const shown: string[] = [];
    page.on('framenavigated', (f) => f === page.mainFrame() && shown.push(f.url()));
    await page.goto(rp.protectedUrl);
    await page.getByRole('heading', { name: 'Signed in' }).waitFor();
    expect(await claim(page, 'sub')).toBe(sub);
    // Through our authorization endpoint by redirects only: no page of ours was shown.
    expect(shown.filter((u) => u.startsWith(url))).toEqual([]);
    expect(shown.at(-1)).toBe(rp.protectedUrl);
  });

  itWithApache('S1: RP-initiated logout through mod_auth_openidc’s logout URL ends the session here too', async () => {
    const page = await newPage();
    await signInAtApache(page, 'Corp SSO', 'carol');
    await page.goto(`${url}/account`);
    await page.getByRole('heading', { name: 'Sign-in methods' }).waitFor();
    // The page's "Sign out" link: redirect_uri?logout= → our end_session_endpoint with Apache's ID token as
    // id_token_hint, no confirmation (it is the client's own), back to the registered post-logout URI.
    await page.goto(rp.protectedUrl);
    const ended: string[] = [];
    page.on('request', (r) => ended.push(r.url()));
    await page.getByRole('link', { name: 'Sign out' }).click();
    await page.waitForURL(rp.loggedOutUrl);
    await page.locator('#public').waitFor();
    const endSession = new URL(ended.find((u) => u.startsWith(`${url}/oidc/session/end`))!);
    expect(endSession.searchParams.get('post_logout_redirect_uri')).toBe(rp.loggedOutUrl);
    expect(endSession.searchParams.get('id_token_hint')).toBeTruthy();
    // Signed out here: the account page sends to sign-in, and so does the protected page.
    await page.goto(`${url}/account`);
    await page.waitForURL(`${url}/`);
    await page.goto(rp.protectedUrl);
    await page.waitForURL(`${url}/interaction/**`);
    await page.getByRole('heading', { name: 'Sign in', level: 1 }).waitFor();
  });

  itWithApache('signs in with the built-in demo provider too (its login form’s redirects may end at another origin)', async () => {
    const page = await newPage();
    const demoPage = page.waitForResponse((r) => r.url().startsWith(`${url}/demo-idp/interaction/`));
    await signInAtApache(page, 'Demo', 'dana');
    // Its CSP lets the form's redirects leave for the app, and nothing else: no script, no framing.
    const csp = (await demoPage).headers()['content-security-policy'];
    expect(csp).not.toContain('form-action');
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(await claim(page, 'email')).toBe('dana@demo.invalid');
    expect(await claim(page, 'sub')).toBe(await userId('dana@demo.invalid'));
  });

  itWithApache('O7: “Sign out everywhere” on our account page: Apache, told by back-channel logout, asks to sign in again', async () => {
    expect((await getJson(`${url}/.well-known/openid-configuration`)).body.backchannel_logout_supported).toBe(true);
    const page = await newPage();
    await signInAtApache(page, 'Corp SSO', 'olga');
    const olga = await userId('olga@corp.test');
    await page.goto(`${url}/account`);
    await page.locator('#sessions li').first().waitFor();
    // Apache's own session is alive: the protected page opens without asking anyone.
    await page.goto(rp.protectedUrl);
    await page.getByRole('heading', { name: 'Signed in' }).waitFor();
    await page.goto(`${url}/account`);
    await page.getByRole('button', { name: 'Sign out everywhere' }).click();
    await page.waitForURL(`${url}/`);
    // The logout token reaches mod_auth_openidc's receiver off the request path; then its session is gone, and
    // with ours gone too the protected page asks to sign in.
    await within(20_000, async () => {
      await page.goto(rp.protectedUrl);
      return page.url().startsWith(`${url}/interaction/`);
    });
    await page.getByRole('heading', { name: 'Sign in', level: 1 }).waitFor();
    // mod_auth_openidc accepted the logout token at the first attempt (200), and only that one went to it.
    expect(await auditDetails(olga, 'logout_notification_sent')).toEqual([
      expect.objectContaining({ clientId, attempt: 1, status: '200' }),
    ]);
    expect(await auditDetails(olga, 'logout_notification_failed')).toEqual([]);
  });
});
