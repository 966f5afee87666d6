import * as oidc from 'openid-client';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { TestBrowser } from '../support/browser.js';
import {
  LOGGED_OUT,
  OTHER_REDIRECT,
  REDIRECT,
  authorizationRequest,
  backAtClient,
  startOpenIdWorld,
  submitForm,
  type OpenIdWorld,
  type RegisteredClient,
} from '../support/relying-party.js';
import { callApi, completeAtProvider, getJson } from '../support/sign-in.js';
import type { World } from '../support/world.js';
import { OidcProviderService } from '../../src/oidc/oidc-provider.service.js';
import { OidcSessionsService } from '../../src/oidc/oidc-sessions.service.js';

/**
 * The service as an OpenID Provider (issue 17, docs/openid-provider.md): openid-client 6, a certified relying party
 * nobody here wrote, signs people in through our sign-in page and browser session, who sign in in turn at a stand-in
 * company OP on 127.0.0.1.
 */
let op: OpenIdWorld;
let world: World;
let url: string;
let adminToken: string;
const register = (body: Record<string, unknown>) => op.register(body);
const relyingParty = (c: RegisteredClient, auth?: 'post') => op.relyingParty(c, auth);
const browse = (...args: Parameters<OpenIdWorld['browse']>) => op.browse(...args);
const signInThroughUs = (...args: Parameters<OpenIdWorld['signInThroughUs']>) => op.signInThroughUs(...args);
const tokenRequest = (...args: Parameters<OpenIdWorld['tokenRequest']>) => op.tokenRequest(...args);

let app: RegisteredClient;
let rp: oidc.Configuration;

beforeAll(async () => {
  op = await startOpenIdWorld();
  ({ world, url, adminToken } = op);
  app = await register({
    name: 'Wiki',
    redirect_uris: [REDIRECT, OTHER_REDIRECT],
    post_logout_redirect_uris: [LOGGED_OUT],
    first_party: true,
  });
  rp = await relyingParty(app);
});

afterAll(async () => {
  await world?.close();
});

afterEach(() => {
  expect(world.service.serverErrors).toEqual([]);
});

describe('discovery', () => {
  it('is valid OpenID Provider metadata, the same at both well-known names, and agrees with oidc-provider’s own', async () => {
    const ours = (await getJson(`${url}/.well-known/openid-configuration`)).body;
    expect(ours).toMatchObject({
      issuer: world.service.publicUrl,
      authorization_endpoint: `${world.service.publicUrl}/oidc/auth`,
      token_endpoint: `${world.service.publicUrl}/oidc/token`,
      userinfo_endpoint: `${world.service.publicUrl}/oidc/userinfo`,
      jwks_uri: `${world.service.publicUrl}/.well-known/jwks.json`,
      revocation_endpoint: `${world.service.publicUrl}/oidc/token/revocation`,
      introspection_endpoint: `${world.service.publicUrl}/oidc/token/introspection`,
      response_types_supported: ['code'],
      subject_types_supported: ['public'],
      id_token_signing_alg_values_supported: ['RS256'],
      code_challenge_methods_supported: ['S256'],
    });
    expect(ours.scopes_supported).toEqual(expect.arrayContaining(['openid', 'profile', 'email', 'offline_access', 'roles']));
    expect(ours.token_endpoint_auth_methods_supported).toEqual(
      expect.arrayContaining(['client_secret_basic', 'client_secret_post', 'none']),
    );
    expect(ours.claims_supported).toEqual(expect.arrayContaining(['sub', 'name', 'picture', 'email', 'email_verified', 'roles']));
    // RFC 7009 and RFC 7662 are ours (openid-tokens.e2e.ts); clients authenticate there as at the token endpoint.
    expect(ours.revocation_endpoint_auth_methods_supported).toEqual(ours.token_endpoint_auth_methods_supported);
    // A public client cannot introspect (RFC 7662 §2.1): every method but none.
    expect(ours.introspection_endpoint_auth_methods_supported).toEqual(
      (ours.token_endpoint_auth_methods_supported as string[]).filter((m) => m !== 'none'),
    );
    expect((await getJson(`${url}/.well-known/oauth-authorization-server`)).body).toEqual(ours);
    // What oidc-provider itself states about the endpoints it serves, we state too.
    const theirs = (await getJson(`${url}/oidc/.well-known/openid-configuration`)).body;
    for (const key of [
      'issuer',
      'authorization_endpoint',
      'token_endpoint',
      'response_types_supported',
      'subject_types_supported',
      'id_token_signing_alg_values_supported',
      'code_challenge_methods_supported',
      'claims_parameter_supported',
      'authorization_response_iss_parameter_supported',
    ]) {
      expect([key, ours[key]]).toEqual([key, theirs[key]]);
    }
    expect([...(ours.response_modes_supported as string[])].sort()).toEqual([...(theirs.response_modes_supported as string[])].sort());
    expect([...(ours.token_endpoint_auth_methods_supported as string[])].sort()).toEqual(
      [...(theirs.token_endpoint_auth_methods_supported as string[])].sort(),
    );
    expect(ours.scopes_supported).toEqual(theirs.scopes_supported);
    // Request objects are off: oidc-provider leaves the field out, which Discovery §3 reads as false; we say it.
    expect([ours.request_parameter_supported, theirs.request_parameter_supported ?? false]).toEqual([false, false]);
  });
});

describe('authorization code flow with openid-client 6', () => {
  it('O4: signs a person in through our sign-in page: ID token, our access token (accepted at /me), UserInfo by scope', async () => {
    const browser = new TestBrowser();
    const { tokens, back, attempt, sawSignInPage } = await signInThroughUs(rp, browser, 'alice');
    expect(sawSignInPage).toBe(true);
    expect(back.searchParams.get('iss')).toBe(world.service.publicUrl);
    // The ID token: openid-client checked signature, iss, aud, nonce, exp; these are what the contract adds.
    const id = tokens.claims()!;
    expect(id).toMatchObject({ iss: world.service.publicUrl, aud: app.client_id, azp: app.client_id, nonce: attempt.nonce });
    expect(typeof id.auth_time).toBe('number');
    expect(typeof id.sid).toBe('string');
    expect(decodeProtectedHeader(tokens.id_token!).kid).toBe(
      ((await getJson(`${url}/.well-known/jwks.json`)).body.keys as { kid: string }[])[0].kid,
    );
    // The access token is ours (RFC 9068): /me takes it like any other, for the same person.
    const header = decodeProtectedHeader(tokens.access_token);
    expect(header.typ).toBe('at+jwt');
    const at = decodeJwt(tokens.access_token);
    expect(at).toMatchObject({ iss: world.service.publicUrl, aud: world.service.publicUrl, sub: id.sub, client_id: app.client_id });
    expect(typeof at.sid).toBe('string');
    expect(at.roles).toEqual(['user']);
    const me = await getJson(`${url}/me`, tokens.access_token);
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({ id: id.sub, email: 'alice@corp.test', name: 'Alice' });
    // UserInfo: the claims of profile and email, not roles (not asked for).
    const info = await oidc.fetchUserInfo(rp, tokens.access_token, id.sub);
    expect(info).toEqual({ sub: id.sub, name: 'Alice', email: 'alice@corp.test', email_verified: true });
    // POST with the header, and POST with access_token in the form body (RFC 6750 §2.2).
    const postHeader = await fetch(`${url}/oidc/userinfo`, { method: 'POST', headers: { authorization: `Bearer ${tokens.access_token}` } });
    expect(await postHeader.json()).toEqual(info);
    const postBody = await fetch(`${url}/oidc/userinfo`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ access_token: tokens.access_token }),
    });
    expect(await postBody.json()).toEqual(info);
    const none = await fetch(`${url}/oidc/userinfo`);
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toContain('error="invalid_token"');
  });

  it('answers roles with the roles scope, and gives a first-party client a refresh token that rotates', async () => {
    const { tokens } = await signInThroughUs(rp, new TestBrowser(), 'alice', { scope: 'openid roles' });
    const info = await oidc.fetchUserInfo(rp, tokens.access_token, tokens.claims()!.sub);
    expect(info).toEqual({ sub: tokens.claims()!.sub, roles: ['user'] });
    expect(typeof tokens.refresh_token).toBe('string');
    const refreshed = await oidc.refreshTokenGrant(rp, tokens.refresh_token!);
    expect(refreshed.refresh_token).not.toBe(tokens.refresh_token);
    expect((await getJson(`${url}/me`, refreshed.access_token)).status).toBe(200);
    // R1: the spent refresh token again is reuse; the whole grant and its session end.
    await expect(oidc.refreshTokenGrant(rp, tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    await expect(oidc.refreshTokenGrant(rp, refreshed.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    expect((await getJson(`${url}/me`, refreshed.access_token)).status).toBe(401);
  });

  it('the claims parameter (OIDC Core §5.5): claims asked for UserInfo are answered there, also after a refresh, and only those we have', async () => {
    // `sub` with a value of its own is not a claim a client may choose (§5.5.1): the answer's sub stays the person's.
    const claims = JSON.stringify({ userinfo: { email: null, roles: { essential: true }, address: null, sub: { value: 'someone-else' } } });
    const { tokens } = await signInThroughUs(rp, new TestBrowser(), 'alice', { scope: 'openid', claims });
    const sub = tokens.claims()!.sub;
    // Asked for UserInfo only: not in the ID token.
    expect(tokens.claims()).not.toHaveProperty('email');
    expect(await oidc.fetchUserInfo(rp, tokens.access_token, sub)).toEqual({ sub, email: 'alice@corp.test', roles: ['user'] });
    // The refresh grant carries the request on: the next access token answers the same.
    const refreshed = await oidc.refreshTokenGrant(rp, tokens.refresh_token!);
    expect(await oidc.fetchUserInfo(rp, refreshed.access_token, sub)).toEqual({ sub, email: 'alice@corp.test', roles: ['user'] });
    // Without the parameter, scope openid answers sub alone.
    const plain = await signInThroughUs(rp, new TestBrowser(), 'alice', { scope: 'openid' });
    expect(await oidc.fetchUserInfo(rp, plain.tokens.access_token, sub)).toEqual({ sub });
  });

  it('SSO: a browser signed in here goes straight back to a client, with no page in between', async () => {
    const browser = new TestBrowser();
    const first = await signInThroughUs(rp, browser, 'alice');
    const other = await register({ name: 'Tracker', redirect_uris: [REDIRECT], first_party: true });
    const second = await signInThroughUs(await relyingParty(other, 'post'), browser);
    expect(second.sawSignInPage).toBe(false);
    expect(second.tokens.claims()!.sub).toBe(first.tokens.claims()!.sub);
    expect(second.tokens.claims()!.aud).toBe(other.client_id);
    // Each client's tokens belong to a session of their own.
    expect(decodeJwt(second.tokens.access_token).sid).not.toBe(decodeJwt(first.tokens.access_token).sid);
  });

  it('reads the account once per request, never longer: the next SSO login carries the roles an admin gave since', async () => {
    const browser = new TestBrowser();
    const first = await signInThroughUs(rp, browser, 'rosalind', { scope: 'openid roles' });
    const sub = first.tokens.claims()!.sub;
    expect(decodeJwt(first.tokens.access_token).roles).toEqual(['user']);
    expect((await callApi(url, 'PATCH', `/admin/users/${sub}`, adminToken, { roles: ['user', 'admin'] })).status).toBe(200);
    const again = await signInThroughUs(rp, browser, undefined, { scope: 'openid roles' });
    expect(again.sawSignInPage).toBe(false);
    expect(again.tokens.claims()!.sub).toBe(sub);
    expect((decodeJwt(again.tokens.access_token).roles as string[]).sort()).toEqual(['admin', 'user']);
    expect(await oidc.fetchUserInfo(rp, again.tokens.access_token, sub)).toMatchObject({
      roles: expect.arrayContaining(['admin', 'user']),
    });
  });

  it('SSO from our own pages: signed in at the account page, a client’s sign-in needs no page either', async () => {
    const browser = new TestBrowser();
    await completeAtProvider(browser, `${url}/session/login/corp`, (u) => u.includes('/session/callback'), { login: 'alice' }).then((r) =>
      browser.request(r.result.href),
    );
    expect((await browser.request(`${url}/account`)).status).toBe(200);
    const { sawSignInPage, tokens } = await signInThroughUs(rp, browser);
    expect(sawSignInPage).toBe(false);
    expect((await getJson(`${url}/me`, tokens.access_token)).body).toMatchObject({ email: 'alice@corp.test' });
  });

  it('O5: prompt=none signs in silently when signed in here, and answers login_required at the redirect URI when not', async () => {
    const browser = new TestBrowser();
    await signInThroughUs(rp, browser, 'alice');
    const silent = await signInThroughUs(rp, browser, undefined, { prompt: 'none' });
    expect(silent.sawSignInPage).toBe(false);

    const stranger = new TestBrowser();
    const attempt = await authorizationRequest(rp, { prompt: 'none' });
    const { back } = await browse(stranger, attempt.url);
    expect(back.origin + back.pathname).toBe(REDIRECT);
    expect(back.searchParams.get('error')).toBe('login_required');
    expect(back.searchParams.get('state')).toBe(attempt.state);
    expect(back.searchParams.get('iss')).toBe(world.service.publicUrl);
  });

  it('idp=<provider> goes straight to that provider, with no chooser (Keycloak’s kc_idp_hint); an unknown one shows it', async () => {
    const browser = new TestBrowser();
    const attempt = await authorizationRequest(rp, { idp: 'corp' });
    const toProvider = /^\/interaction\/[^/]+\/login\/corp$/;
    const { stoppedAt } = await browser.follow(attempt.url.href, (u) => toProvider.test(new URL(u).pathname));
    expect(stoppedAt).toBeDefined();
    expect(browser.history.some((h) => h.status === 200)).toBe(false);
    const { result } = await completeAtProvider(browser, stoppedAt!, (u) => u.startsWith(REDIRECT), { login: 'idp-hinted' });
    expect(result.searchParams.get('state')).toBe(attempt.state);
    expect(result.searchParams.get('code')).toBeTruthy();

    const unknown = await authorizationRequest(rp, { idp: 'nowhere' });
    const page = (await new TestBrowser().follow(unknown.url.href)).last;
    expect([page.status, /href="\/interaction\/[^"]+\/login\/corp"/.test(page.body)]).toEqual([200, true]);
  });

  it('takes the authorization request as a form POST (OIDC Core §3.1.2.1): the same request as a GET, so prompt=none is silent', async () => {
    const browser = new TestBrowser();
    await signInThroughUs(rp, browser, 'alice');
    const attempt = await authorizationRequest(rp, { prompt: 'none' });
    const endpoint = `${attempt.url.origin}${attempt.url.pathname}`;
    const posted = await browser.request(endpoint, { form: Object.fromEntries(attempt.url.searchParams) });
    expect(posted.status).toBe(303);
    const { back, sawSignInPage } = await browse(browser, new URL(posted.headers.get('location')!, endpoint));
    expect(sawSignInPage).toBe(false);
    expect(back.searchParams.get('state')).toBe(attempt.state);
    expect(back.searchParams.get('code')).toBeTruthy();
    // Repeated parameters stay repeated, and are refused as in a GET (RFC 6749 §3.1); a POST that is not a form is 400.
    const twice = await fetch(endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `${attempt.url.searchParams}&scope=openid`,
      redirect: 'manual',
    });
    const repeated = await fetch(new URL(twice.headers.get('location')!, endpoint), { redirect: 'manual' });
    const refused = new URL(repeated.headers.get('location')!);
    expect(refused.origin + refused.pathname).toBe(REDIRECT);
    expect(refused.searchParams.get('error')).toBe('invalid_request');
    expect(refused.searchParams.get('code')).toBeNull();
    const json = await fetch(endpoint, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}', redirect: 'manual' });
    expect([json.status, json.headers.get('location')]).toEqual([400, null]);
  });

  it('prompt=none signs in silently a browser signed in only at our own pages, auth_time that sign-in', async () => {
    const browser = new TestBrowser();
    const before = Math.floor(Date.now() / 1000);
    const { result } = await completeAtProvider(browser, `${url}/session/login/corp`, (u) => u.includes('/session/callback'), {
      login: 'alice',
    });
    await browser.request(result.href);
    const silent = await signInThroughUs(rp, browser, undefined, { prompt: 'none' });
    expect(silent.sawSignInPage).toBe(false);
    const authTime = silent.tokens.claims()!.auth_time!;
    expect(authTime).toBeGreaterThanOrEqual(before - 1);
    // oidcc-prompt-none-logged-in: the next silent sign-in has the same auth_time and sub.
    const again = await signInThroughUs(rp, browser, undefined, { prompt: 'none' });
    expect([again.tokens.claims()!.auth_time, again.tokens.claims()!.sub]).toEqual([authTime, silent.tokens.claims()!.sub]);
  });

  it('answers with response_mode=form_post: an auto-submitting form to the redirect URI that our CSP lets through', async () => {
    const browser = new TestBrowser();
    await signInThroughUs(rp, browser, 'alice');
    const attempt = await authorizationRequest(rp, { response_mode: 'form_post' });
    const { last } = await browser.follow(attempt.url.href, backAtClient);
    expect(last.status).toBe(200);
    expect(last.body).toContain(`action="${REDIRECT}"`);
    expect(last.body).toContain(`name="state" value="${attempt.state}"`);
    const csp = last.headers.get('content-security-policy') ?? '';
    expect(csp).not.toContain('form-action');
    expect(csp).toMatch(/script-src 'self' 'sha256-/);
  });

  it('O5: signing out at the service ends SSO: the next prompt=none is login_required', async () => {
    const browser = new TestBrowser();
    await signInThroughUs(rp, browser, 'alice');
    const page = await browser.request(`${url}/account`);
    const csrf = /<meta name="csrf-token" content="([^"]+)">/.exec(page.body)![1];
    expect((await browser.request(`${url}/session/logout`, { method: 'POST', headers: { 'x-csrf-token': csrf } })).status).toBe(204);
    const attempt = await authorizationRequest(rp, { prompt: 'none' });
    const { back } = await browse(browser, attempt.url);
    expect(back.searchParams.get('error')).toBe('login_required');
  });
});

describe('RP-initiated logout', () => {
  it('with the client’s ID token: no confirmation, the session here ends, and the client’s tokens with it', async () => {
    const browser = new TestBrowser();
    const { tokens } = await signInThroughUs(rp, browser, 'alice');
    const logout = oidc.buildEndSessionUrl(rp, { id_token_hint: tokens.id_token!, post_logout_redirect_uri: LOGGED_OUT, state: 'bye' });
    const page = await browser.request(logout.href);
    expect(page.status).toBe(200);
    // An automatic step, not a question: the form submits itself (same-origin script) with logout=yes.
    expect(page.body).toContain('/assets/autosubmit.js');
    expect(page.body).not.toContain('Stay signed in');
    const done = await submitForm(browser, page);
    expect(done.status).toBe(303);
    expect(done.headers.get('location')).toBe(`${LOGGED_OUT}?state=bye`);
    expect((await browser.request(`${url}/account`)).headers.get('location')).toBe('/');
    expect((await getJson(`${url}/me`, tokens.access_token)).status).toBe(401);
    await expect(oidc.refreshTokenGrant(rp, tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    const attempt = await authorizationRequest(rp, { prompt: 'none' });
    expect((await browse(browser, attempt.url)).back.searchParams.get('error')).toBe('login_required');
    const audit = await callApi(url, 'GET', `/admin/audit?userId=${tokens.claims()!.sub}&type=session_revoked`, adminToken);
    expect(audit.body.items.some((e: { reason: string; actorId: string }) => e.reason === 'logout')).toBe(true);
  });

  it('without an ID token the person is asked, and staying signed in keeps the session', async () => {
    const browser = new TestBrowser();
    const { tokens } = await signInThroughUs(rp, browser, 'alice');
    const page = await browser.request(oidc.buildEndSessionUrl(rp, { client_id: app.client_id }).href);
    expect(page.body).toContain('Stay signed in');
    expect(page.body).not.toContain('autosubmit.js');
    const stay = await submitForm(browser, page);
    expect(stay.status).toBe(303);
    expect((await browser.request(`${url}/account`)).status).toBe(200);
    // oidc-provider's "no": this client is signed out of the session, the session itself stays.
    expect((await getJson(`${url}/me`, tokens.access_token)).status).toBe(401);
  });

  it('refuses a post_logout_redirect_uri that is not registered, without redirecting', async () => {
    const browser = new TestBrowser();
    const { tokens } = await signInThroughUs(rp, browser, 'alice');
    const res = await browser.request(
      oidc.buildEndSessionUrl(rp, { id_token_hint: tokens.id_token!, post_logout_redirect_uri: `${LOGGED_OUT}/x` }).href,
    );
    expect([res.status, res.headers.get('location')]).toEqual([400, null]);
    expect((await browser.request(`${url}/account`)).status).toBe(200);
  });
});

describe('whose sign-in it is', () => {
  it('another person signing in to the same browser at the service is who the next client sign-in is, with no logout page', async () => {
    world.corp.accounts.set('bob', { email: 'bob@corp.test', email_verified: true, name: 'Bob' });
    const browser = new TestBrowser();
    const alice = await signInThroughUs(rp, browser, 'alice');
    // Bob signs in on the service's own page in the same browser: Alice's browser session ends. (The stand-in OP,
    // on the same host, would sign Alice in again by its own SSO: its session cookie goes, as at a shared computer.)
    for (const name of ['_session', '_session.sig']) browser.cookies('127.0.0.1').delete(name);
    const { result } = await completeAtProvider(browser, `${url}/session/login/corp`, (u) => u.includes('/session/callback'), {
      login: 'bob',
    });
    await browser.request(result.href);
    const next = await signInThroughUs(rp, browser);
    expect(next.sawSignInPage).toBe(false);
    expect(next.tokens.claims()!.sub).not.toBe(alice.tokens.claims()!.sub);
    expect((await getJson(`${url}/me`, next.tokens.access_token)).body).toMatchObject({ email: 'bob@corp.test' });
  });

  it('O8: a public client (none) gets no secret and must use PKCE; the error goes to its registered redirect URI', async () => {
    const spa = await callApi(url, 'POST', '/admin/clients', adminToken, {
      name: 'SPA',
      redirect_uris: [REDIRECT],
      token_endpoint_auth_method: 'none',
      first_party: true,
    });
    expect(spa.status).toBe(201);
    expect(spa.body.client_secret).toBeUndefined();
    const publicRp = await oidc.discovery(new URL(world.service.publicUrl), spa.body.client_id, undefined, oidc.None(), {
      execute: [oidc.allowInsecureRequests],
    });
    const { tokens } = await signInThroughUs(publicRp, new TestBrowser(), 'alice');
    expect((await getJson(`${url}/me`, tokens.access_token)).status).toBe(200);
    const withoutPkce = new URL(`${url}/oidc/auth`);
    withoutPkce.search = new URLSearchParams({
      client_id: spa.body.client_id,
      response_type: 'code',
      scope: 'openid',
      state: 's1',
      redirect_uri: REDIRECT,
    }).toString();
    const res = await fetch(withoutPkce, { redirect: 'manual' });
    const back = new URL(res.headers.get('location')!);
    expect([back.origin + back.pathname, back.searchParams.get('error'), back.searchParams.get('state')]).toEqual([
      REDIRECT,
      'invalid_request',
      's1',
    ]);
  });

  it('refuses a request object as request_not_supported, at the redirect URI', async () => {
    const attempt = await authorizationRequest(rp, { request: 'eyJhbGciOiJub25lIn0.eyJzY29wZSI6Im9wZW5pZCJ9.' });
    const res = await fetch(attempt.url, { redirect: 'manual' });
    const back = new URL(res.headers.get('location')!);
    expect([back.origin + back.pathname, back.searchParams.get('error')]).toEqual([REDIRECT, 'request_not_supported']);
  });

  it('O2: a disabled client is an unknown client: no sign-in, no redirect', async () => {
    const gone = await register({ name: 'Retired', redirect_uris: [REDIRECT], first_party: true });
    expect((await callApi(url, 'PATCH', `/admin/clients/${gone.client_id}`, adminToken, { disabled: true })).status).toBe(200);
    const attempt = await authorizationRequest(await relyingParty(gone));
    const res = await fetch(attempt.url, { redirect: 'manual' });
    expect([res.status, res.headers.get('location')]).toEqual([400, null]);
  });
});

describe('attacks on the authorization endpoint (RFC 9700 §4.1)', () => {
  /** The request as the registered client would send it, but for `redirect_uri`. */
  const withRedirect = (redirectUri: string) => {
    const u = new URL(`${url}/oidc/auth`);
    u.search = new URLSearchParams({
      client_id: app.client_id,
      response_type: 'code',
      scope: 'openid',
      state: 'xyz',
      redirect_uri: redirectUri,
    }).toString();
    return u.href;
  };

  it.each([
    ['a prefix of a registered one', 'http://127.0.0.1:9/app/callback/../evil'],
    ['a registered one plus a path', `${REDIRECT}/more`],
    ['another port', 'http://127.0.0.1:10/app/callback'],
    ['an added query', `${REDIRECT}?next=/evil`],
    ['another host', 'http://evil.example/app/callback'],
  ])('O1, O2: refuses %s without redirecting: an error page at the service, 400', async (_what, redirectUri) => {
    const res = await fetch(withRedirect(redirectUri), { redirect: 'manual' });
    expect(res.status).toBe(400);
    expect(res.headers.get('location')).toBeNull();
    expect(res.headers.get('content-type')).toContain('text/html');
    expect(await res.text()).toContain('redirect_uri');
  });

  it('O2: refuses an unknown client without redirecting', async () => {
    const u = new URL(withRedirect(REDIRECT));
    u.searchParams.set('client_id', 'svc-nobody');
    const res = await fetch(u, { redirect: 'manual' });
    expect(res.status).toBe(400);
    expect(res.headers.get('location')).toBeNull();
  });
});

describe('attacks on the token endpoint', () => {
  it('O3: a code is single use: a second exchange is refused and ends what the first one issued (RFC 6749 §4.1.2)', async () => {
    const browser = new TestBrowser();
    const attempt = await authorizationRequest(rp);
    const { back } = await browse(browser, attempt.url, 'alice');
    const code = back.searchParams.get('code')!;
    const form = { grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: attempt.verifier };
    const first = await tokenRequest(form, app);
    expect(first.status).toBe(200);
    expect((await getJson(`${url}/me`, first.body.access_token as string)).status).toBe(200);
    const again = await tokenRequest(form, app);
    expect([again.status, again.body.error]).toEqual([400, 'invalid_grant']);
    expect((await getJson(`${url}/me`, first.body.access_token as string)).status).toBe(401);
    expect((await tokenRequest({ grant_type: 'refresh_token', refresh_token: first.body.refresh_token as string }, app)).body.error).toBe(
      'invalid_grant',
    );
  });

  it('O3, L3: a code is bound to its client, its redirect URI and its PKCE verifier; failed attempts spend nothing', async () => {
    const other = await register({ name: 'Thief', redirect_uris: [REDIRECT], first_party: true });
    const attempt = await authorizationRequest(rp);
    const { back } = await browse(new TestBrowser(), attempt.url, 'alice');
    const code = back.searchParams.get('code')!;
    const form = { grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: attempt.verifier };
    expect((await tokenRequest(form, other)).body.error).toBe('invalid_grant');
    expect((await tokenRequest({ ...form, code_verifier: oidc.randomPKCECodeVerifier() }, app)).body.error).toBe('invalid_grant');
    const { code_verifier: _omitted, ...withoutVerifier } = form;
    expect((await tokenRequest(withoutVerifier, app)).body.error).toBe('invalid_grant');
    expect((await tokenRequest({ ...form, redirect_uri: OTHER_REDIRECT }, app)).body.error).toBe('invalid_grant');
    const right = await tokenRequest(form, app);
    expect(right.status).toBe(200);
  });

  /** A fresh code of alice's for `app`, as the token request's form that exchanges it. */
  async function codeExchangeForm() {
    const attempt = await authorizationRequest(rp);
    const { back } = await browse(new TestBrowser(), attempt.url, 'alice');
    return {
      grant_type: 'authorization_code',
      code: back.searchParams.get('code')!,
      redirect_uri: REDIRECT,
      code_verifier: attempt.verifier,
    };
  }

  it('O3: concurrent exchanges of one code are reuse: at most one answered with tokens, and those end (RFC 6749 §4.1.2)', async () => {
    // Five rounds, so both interleavings occur: a loser that read the code before the winner spent it, and one after.
    for (let round = 0; round < 5; round++) {
      const form = await codeExchangeForm();
      const answers = await Promise.all([tokenRequest(form, app), tokenRequest(form, app), tokenRequest(form, app)]);
      const issued = answers.filter((a) => a.status === 200);
      expect(issued.length).toBeLessThanOrEqual(1);
      for (const refused of answers.filter((a) => a.status !== 200)) {
        expect([refused.status, refused.body.error]).toEqual([400, 'invalid_grant']);
      }
      for (const { body } of issued) {
        expect((await getJson(`${url}/me`, body.access_token as string)).status).toBe(401);
        const refreshed = await tokenRequest({ grant_type: 'refresh_token', refresh_token: body.refresh_token as string }, app);
        expect(refreshed.body.error).toBe('invalid_grant');
      }
    }
  });

  it('O3: an exchange that read the code unspent and loses the spend to another ends what the other issued', async () => {
    // The interleaving the concurrent test cannot force: this exchange read the code before the winner spent it, so
    // oidc-provider's own `consumed` check passed, and only the conditional UPDATE sees the reuse.
    const attempt = await authorizationRequest(rp);
    const { back } = await browse(new TestBrowser(), attempt.url, 'alice');
    const code = back.searchParams.get('code')!;
    const { provider } = world.service.app.get(OidcProviderService);
    const stale = await provider.AuthorizationCode.find(code);
    expect(stale?.isValid).toBe(true);
    const winner = await tokenRequest(
      { grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: attempt.verifier },
      app,
    );
    expect(winner.status).toBe(200);
    expect((await getJson(`${url}/me`, winner.body.access_token as string)).status).toBe(200);
    await expect(stale!.consume()).rejects.toMatchObject({ error: 'invalid_grant' });
    expect((await getJson(`${url}/me`, winner.body.access_token as string)).status).toBe(401);
    const refreshed = await tokenRequest({ grant_type: 'refresh_token', refresh_token: winner.body.refresh_token as string }, app);
    expect(refreshed.body.error).toBe('invalid_grant');
  });

  it('O3: a reuse whose grant is destroyed after the first exchange bound its session still ends that session', async () => {
    // The interleaving CI met on PostgreSQL: the reuse (oidc-provider's revoke(): the grant's tokens and the grant's
    // destroy in one Promise.all) read the grant's session before the first exchange bound it, and destroyed the grant
    // only after that exchange had found it (lockGrant). Forced here with gates on the calls involved, not timing.
    const form = await codeExchangeForm();
    const { provider } = world.service.app.get(OidcProviderService);
    const bridge = world.service.app.get(OidcSessionsService);
    const gate = () => {
      let open!: () => void;
      const opened = new Promise<void>((r) => (open = r));
      let reach!: () => void;
      const reached = new Promise<void>((r) => (reach = r));
      return { open, opened, reach, reached };
    };
    const binding = gate(); // the first exchange, spent the code, about to bind its session
    const destroying = gate(); // the reuse's destroy of the grant (oidc-provider's own call)
    const revokedTokens = gate(); // the reuse's AccessToken.revokeByGrantId has returned
    const grantAdapter = provider.Grant.adapter as unknown as { destroy: (id: string) => Promise<void> };
    const tokenAdapter = provider.AccessToken.adapter as unknown as { revokeByGrantId: (id: string) => Promise<void> };
    const original = { sessionForGrant: bridge.sessionForGrant, destroy: grantAdapter.destroy, revoke: tokenAdapter.revokeByGrantId };
    let first = true;
    bridge.sessionForGrant = async function (this: OidcSessionsService, grant) {
      if (first) {
        first = false;
        binding.reach();
        await binding.opened;
      }
      return original.sessionForGrant.call(this, grant);
    };
    grantAdapter.destroy = async function (this: unknown, id: string) {
      destroying.reach();
      await destroying.opened;
      return original.destroy.call(this, id);
    };
    tokenAdapter.revokeByGrantId = async function (this: unknown, id: string) {
      await original.revoke.call(this, id);
      revokedTokens.reach();
    };
    try {
      const winner = tokenRequest(form, app);
      await binding.reached;
      const reuse = tokenRequest(form, app);
      await Promise.all([destroying.reached, revokedTokens.reached]);
      binding.open();
      const won = await winner;
      destroying.open();
      expect((await reuse).body.error).toBe('invalid_grant');
      if (won.status === 200) {
        expect((await getJson(`${url}/me`, won.body.access_token as string)).status).toBe(401);
        const refreshed = await tokenRequest({ grant_type: 'refresh_token', refresh_token: won.body.refresh_token as string }, app);
        expect(refreshed.body.error).toBe('invalid_grant');
      } else {
        expect([won.status, won.body.error]).toEqual([400, 'invalid_grant']);
      }
    } finally {
      binding.open();
      destroying.open();
      Object.assign(bridge, { sessionForGrant: original.sessionForGrant });
      Object.assign(grantAdapter, { destroy: original.destroy });
      Object.assign(tokenAdapter, { revokeByGrantId: original.revoke });
    }
  });

  it('O8: a wrong client secret is invalid_client, audited like any client authentication failure', async () => {
    const res = await tokenRequest({ grant_type: 'refresh_token', refresh_token: 'x' }, { ...app, client_secret: 'wrong' });
    expect([res.status, res.body.error]).toEqual([401, 'invalid_client']);
    const audit = await callApi(url, 'GET', `/admin/audit?type=client_auth_failed`, adminToken);
    expect(audit.body.items.some((e: { details: { clientId: string } }) => e.details.clientId === app.client_id)).toBe(true);
  });
});

describe('our signing keys', () => {
  it('after a key rotation, ID and access tokens are signed with the new key; tokens signed before keep working', async () => {
    const before = await signInThroughUs(rp, new TestBrowser(), 'alice');
    const oldKid = decodeProtectedHeader(before.tokens.id_token!).kid;
    expect((await callApi(url, 'POST', '/admin/keys/rotate', adminToken)).status).toBeLessThan(300);
    const after = await signInThroughUs(await relyingParty(app), new TestBrowser(), 'alice');
    const newKid = decodeProtectedHeader(after.tokens.id_token!).kid;
    expect(newKid).not.toBe(oldKid);
    expect(decodeProtectedHeader(after.tokens.access_token).kid).toBe(newKid);
    const published = ((await getJson(`${url}/.well-known/jwks.json`)).body.keys as { kid: string }[]).map((k) => k.kid);
    expect(published).toEqual(expect.arrayContaining([oldKid, newKid]));
    expect((await getJson(`${url}/me`, before.tokens.access_token)).status).toBe(200);
    expect((await getJson(`${url}/me`, after.tokens.access_token)).status).toBe(200);
  });
});

describe('one session model', () => {
  it('a client’s session is listed with the person’s sessions; revoking it there ends the client’s tokens', async () => {
    const { tokens } = await signInThroughUs(rp, new TestBrowser(), 'alice');
    const sid = decodeJwt(tokens.access_token).sid as string;
    const user = await callApi(url, 'GET', `/admin/users/${tokens.claims()!.sub}`, adminToken);
    expect(user.body.sessions.map((s: { id: string }) => s.id)).toContain(sid);
    expect((await callApi(url, 'POST', `/admin/users/${tokens.claims()!.sub}/sessions/revoke`, adminToken)).status).toBeLessThan(300);
    expect((await getJson(`${url}/me`, tokens.access_token)).status).toBe(401);
    expect((await fetch(`${url}/oidc/userinfo`, { headers: { authorization: `Bearer ${tokens.access_token}` } })).status).toBe(401);
    await expect(oidc.refreshTokenGrant(rp, tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
  });
});
