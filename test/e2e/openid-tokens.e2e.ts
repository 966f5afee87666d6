import * as oidc from 'openid-client';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { TestBrowser } from '../support/browser.js';
import {
  LOGGED_OUT,
  REDIRECT,
  authorizationRequest,
  startOpenIdWorld,
  submitForm,
  type OpenIdWorld,
  type RegisteredClient,
} from '../support/relying-party.js';
import { startService, type RunningService } from '../support/service.js';
import { callApi, getJson } from '../support/sign-in.js';
import type { World } from '../support/world.js';

/**
 * The OpenID Provider's clients and their tokens after the sign-in (issue 17, docs/openid-provider.md "Revocation and
 * introspection"): RFC 7009 revocation and RFC 7662 introspection through openid-client 6 (a certified relying party)
 * and by hand, a client disabled or deleted, an ID token signed before a key rotation, and the limits on /oidc/*.
 */
let op: OpenIdWorld;
let world: World;
let url: string;
let adminToken: string;

let app: RegisteredClient;
let rp: oidc.Configuration;
let other: RegisteredClient;
let otherRp: oidc.Configuration;

beforeAll(async () => {
  op = await startOpenIdWorld();
  ({ world, url, adminToken } = op);
  app = await op.register({ name: 'Wiki', redirect_uris: [REDIRECT], post_logout_redirect_uris: [LOGGED_OUT], first_party: true });
  rp = await op.relyingParty(app);
  other = await op.register({ name: 'Tracker', redirect_uris: [REDIRECT], first_party: true });
  otherRp = await op.relyingParty(other);
});

afterAll(async () => {
  await world?.close();
});

afterEach(() => {
  expect(world.service.serverErrors).toEqual([]);
});

const signIn = async (relyingParty = rp) => (await op.signInThroughUs(relyingParty, new TestBrowser(), 'alice')).tokens;
const basic = (c: RegisteredClient) => `Basic ${Buffer.from(`${c.client_id}:${c.client_secret}`).toString('base64')}`;

/** A raw request to one of the two endpoints, as a client library or an attacker sends it. */
async function post(path: 'revocation' | 'introspection', form: Record<string, string>, headers: Record<string, string> = {}) {
  const res = await fetch(`${url}/oidc/token/${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(form),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? (JSON.parse(text) as Record<string, unknown>) : undefined };
}

/** Whether the client's tokens still work: the access token at /me and UserInfo, the refresh token at the token endpoint. */
async function stillWorks(tokens: oidc.TokenEndpointResponse, relyingParty = rp) {
  const me = (await getJson(`${url}/me`, tokens.access_token)).status;
  const info = (await fetch(`${url}/oidc/userinfo`, { headers: { authorization: `Bearer ${tokens.access_token}` } })).status;
  const refresh = await op.tokenRequest(
    { grant_type: 'refresh_token', refresh_token: tokens.refresh_token! },
    relyingParty === rp ? app : other,
  );
  return { me, info, refresh: refresh.status === 200 ? 'ok' : refresh.body.error };
}

describe('discovery', () => {
  it('lists the revocation and introspection endpoints and how clients authenticate there', async () => {
    const meta = (await getJson(`${url}/.well-known/openid-configuration`)).body;
    expect(meta).toMatchObject({
      revocation_endpoint: `${world.service.publicUrl}/oidc/token/revocation`,
      introspection_endpoint: `${world.service.publicUrl}/oidc/token/introspection`,
    });
    expect([...(meta.revocation_endpoint_auth_methods_supported as string[])].sort()).toEqual([
      'client_secret_basic',
      'client_secret_post',
      'none',
    ]);
    expect([...(meta.introspection_endpoint_auth_methods_supported as string[])].sort()).toEqual([
      'client_secret_basic',
      'client_secret_post',
    ]);
    expect(rp.serverMetadata().revocation_endpoint).toBe(meta.revocation_endpoint);
  });
});

describe('RFC 7009 revocation', () => {
  it('O9: a refresh token revoked: the refresh is invalid_grant, its access token 401 at /me and UserInfo, audited', async () => {
    const tokens = await signIn();
    expect(await stillWorks(tokens)).toMatchObject({ me: 200, info: 200 });
    // stillWorks rotated the refresh token: sign in again for one that has not been used.
    const fresh = await signIn();
    await oidc.tokenRevocation(rp, fresh.refresh_token!, { token_type_hint: 'refresh_token' });
    expect(await stillWorks(fresh)).toEqual({ me: 401, info: 401, refresh: 'invalid_grant' });
    const sub = fresh.claims()!.sub;
    const audit = await callApi(url, 'GET', `/admin/audit?userId=${sub}&type=session_revoked`, adminToken);
    const sid = decodeJwt(fresh.access_token).sid;
    expect(audit.body.items).toContainEqual(
      expect.objectContaining({ reason: 'revoked_by_client', actorId: app.client_id, details: { sessionId: sid } }),
    );
  });

  it('O9: an access token revoked ends its session: 401 at /me and UserInfo, and its refresh token is invalid_grant, audited', async () => {
    const tokens = await signIn();
    await oidc.tokenRevocation(rp, tokens.access_token, { token_type_hint: 'access_token' });
    expect(await stillWorks(tokens)).toEqual({ me: 401, info: 401, refresh: 'invalid_grant' });
    const audit = await callApi(url, 'GET', `/admin/audit?userId=${tokens.claims()!.sub}&type=session_revoked`, adminToken);
    expect(audit.body.items).toContainEqual(
      expect.objectContaining({
        reason: 'revoked_by_client',
        actorId: app.client_id,
        details: { sessionId: decodeJwt(tokens.access_token).sid },
      }),
    );
  });

  it('O9: token_type_hint is only a hint: a refresh token sent as an access token is revoked all the same', async () => {
    const tokens = await signIn();
    const res = await post('revocation', { token: tokens.refresh_token!, token_type_hint: 'access_token' }, { authorization: basic(app) });
    expect([res.status, res.body]).toEqual([200, undefined]);
    const unknownHint = await signIn();
    expect(
      (await post('revocation', { token: unknownHint.access_token, token_type_hint: 'id_token' }, { authorization: basic(app) })).status,
    ).toBe(200);
    expect(await stillWorks(tokens)).toEqual({ me: 401, info: 401, refresh: 'invalid_grant' });
    expect(await stillWorks(unknownHint)).toEqual({ me: 401, info: 401, refresh: 'invalid_grant' });
  });

  it('O9: another client’s token, an unknown or a garbage token: 200, and nothing is revoked (RFC 7009 §2.2)', async () => {
    const tokens = await signIn();
    for (const token of [tokens.access_token, tokens.refresh_token!]) {
      expect((await post('revocation', { token }, { authorization: basic(other) })).status).toBe(200);
    }
    await oidc.tokenRevocation(otherRp, tokens.refresh_token!);
    for (const token of ['nope', 'a'.repeat(5000), `${tokens.access_token.slice(0, -4)}AAAA`, 'e30.e30.e30', '\u0000']) {
      expect([token.slice(0, 8), (await post('revocation', { token }, { authorization: basic(app) })).status]).toEqual([
        token.slice(0, 8),
        200,
      ]);
    }
    expect((await getJson(`${url}/me`, tokens.access_token)).status).toBe(200);
    expect((await oidc.tokenIntrospection(rp, tokens.refresh_token!)).active).toBe(true);
  });

  it('O9: an unauthenticated client is 401 invalid_client: no credentials, a wrong secret, or another method than registered', async () => {
    const tokens = await signIn();
    const { token } = { token: tokens.refresh_token! };
    const none = await post('revocation', { token });
    expect([none.status, none.body?.error]).toEqual([401, 'invalid_client']);
    expect(none.headers.get('www-authenticate')).toContain('Basic');
    const wrong = await post('revocation', { token }, { authorization: basic({ ...app, client_secret: 'wrong' }) });
    expect([wrong.status, wrong.body?.error]).toEqual([401, 'invalid_client']);
    // Registered for client_secret_basic: the same secret in the body is not how this client authenticates.
    const posted = await post('revocation', { token, client_id: app.client_id, client_secret: app.client_secret });
    expect([posted.status, posted.body?.error]).toEqual([401, 'invalid_client']);
    // A confidential client's id alone is not a public client.
    const bare = await post('revocation', { token, client_id: app.client_id });
    expect([bare.status, bare.body?.error]).toEqual([401, 'invalid_client']);
    const introspected = await post('introspection', { token }, { authorization: basic({ ...app, client_secret: 'wrong' }) });
    expect([introspected.status, introspected.body?.error]).toEqual([401, 'invalid_client']);
    // Nothing was revoked by any of them.
    expect((await oidc.tokenIntrospection(rp, token)).active).toBe(true);
    const audit = await callApi(url, 'GET', `/admin/audit?type=client_auth_failed`, adminToken);
    expect(audit.body.items.some((e: { details: { clientId: string } }) => e.details.clientId === app.client_id)).toBe(true);
  });

  it('client_secret_post and a public client (none, client_id only) revoke their own tokens (a public client cannot introspect: openid-attacks.e2e.ts)', async () => {
    const posting = await op.register({
      name: 'Poster',
      redirect_uris: [REDIRECT],
      first_party: true,
      token_endpoint_auth_method: 'client_secret_post',
    });
    const postingRp = await op.relyingParty(posting, 'post');
    const a = await signIn(postingRp);
    await oidc.tokenRevocation(postingRp, a.refresh_token!);
    expect((await getJson(`${url}/me`, a.access_token)).status).toBe(401);

    const spa = await callApi(url, 'POST', '/admin/clients', adminToken, {
      name: 'SPA',
      redirect_uris: [REDIRECT],
      token_endpoint_auth_method: 'none',
      first_party: true,
    });
    const spaRp = await oidc.discovery(new URL(world.service.publicUrl), spa.body.client_id, undefined, oidc.None(), {
      execute: [oidc.allowInsecureRequests],
    });
    const b = await signIn(spaRp);
    await oidc.tokenRevocation(spaRp, b.access_token);
    expect((await getJson(`${url}/me`, b.access_token)).status).toBe(401);
  });

  it('O9: a revocation racing refreshes of the same grant: whichever wins, nothing of the grant survives', async () => {
    for (let round = 0; round < 4; round++) {
      const tokens = await signIn();
      const refresh = () => op.tokenRequest({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token! }, app);
      const [, a, b] = await Promise.all([oidc.tokenRevocation(rp, tokens.refresh_token!), refresh(), refresh()]);
      // Of the two refreshes at most one got new tokens (rotation); those are dead too: their session has ended.
      const issued = [a, b].filter((r) => r.status === 200);
      expect(issued.length).toBeLessThanOrEqual(1);
      for (const r of [a, b]) if (r.status !== 200) expect(r.body.error).toBe('invalid_grant');
      for (const t of [tokens, ...issued.map((r) => r.body as unknown as oidc.TokenEndpointResponse)]) {
        expect([round, (await getJson(`${url}/me`, t.access_token)).status]).toEqual([round, 401]);
        const again = await op.tokenRequest({ grant_type: 'refresh_token', refresh_token: t.refresh_token! }, app);
        expect([round, again.body.error]).toEqual([round, 'invalid_grant']);
        expect([round, (await oidc.tokenIntrospection(rp, t.refresh_token!)).active]).toEqual([round, false]);
      }
    }
  });

  it('O9: an API client revokes its own client-credentials token: every token of that client issued until then ends, audited', async () => {
    const job = await op.register({ name: 'Nightly job', scopes: ['reports:read'] });
    const issue = async () => {
      const res = await fetch(`${url}/auth/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic(job) },
        body: 'grant_type=client_credentials',
      });
      return ((await res.json()) as { access_token: string }).access_token;
    };
    const [first, second] = [await issue(), await issue()];
    const introspect = async (token: string) => (await post('introspection', { token }, { authorization: basic(job) })).body!;
    expect(await introspect(first)).toMatchObject({ active: true, client_id: job.client_id, sub: job.client_id, scope: 'reports:read' });
    // Another client cannot.
    expect((await post('revocation', { token: first }, { authorization: basic(app) })).status).toBe(200);
    expect((await introspect(first)).active).toBe(true);
    const revokedBy = async () =>
      (
        (await callApi(url, 'GET', `/admin/audit?type=client_tokens_revoked`, adminToken)).body.items as { details: { clientId: string } }[]
      ).filter((e) => e.details.clientId === job.client_id);
    // Nothing revoked, nothing audited.
    expect(await revokedBy()).toEqual([]);
    expect((await post('revocation', { token: first }, { authorization: basic(job), 'user-agent': 'nightly-job/2.0' })).status).toBe(200);
    expect([(await introspect(first)).active, (await introspect(second)).active]).toEqual([false, false]);
    // No session ends, so no session_revoked: the client's own row, with the client as actor and its request.
    expect(await revokedBy()).toEqual([
      expect.objectContaining({
        actorId: job.client_id,
        userId: null,
        reason: 'revoked_by_client',
        ip: expect.any(String),
        userAgent: 'nightly-job/2.0',
        details: { clientId: job.client_id },
      }),
    ]);
    // Its next token works, even within the same second (RevocationsService.issuedAtFor).
    expect((await introspect(await issue())).active).toBe(true);
  });

  it('refuses a JSON body and a repeated token parameter as invalid_request', async () => {
    const json = await fetch(`${url}/oidc/token/revocation`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: basic(app) },
      body: JSON.stringify({ token: 'x' }),
    });
    expect([json.status, ((await json.json()) as { error: string }).error]).toEqual([400, 'invalid_request']);
    const twice = await fetch(`${url}/oidc/token/revocation`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic(app) },
      body: 'token=a&token=b',
    });
    expect(twice.status).toBe(400);
    const missing = await post('introspection', {}, { authorization: basic(app) });
    expect([missing.status, missing.body?.error]).toEqual([400, 'invalid_request']);
  });
});

describe('hostile input at both endpoints', () => {
  it('is a 4xx JSON error or the ordinary answer, never a 5xx, whatever the credentials, body or content type', async () => {
    const b64 = (text: string) => Buffer.from(text).toString('base64');
    const cases: { headers?: Record<string, string>; body?: string; type?: string }[] = [
      { headers: { authorization: 'Basic !!!' } },
      { headers: { authorization: 'Bearer x' } },
      { headers: { authorization: `Basic ${b64('a:b:c')}` } },
      { headers: { authorization: `Basic ${b64('%00:x')}` } },
      { headers: { authorization: `Basic ${b64('%E0%A4%A:x')}` } },
      { headers: { authorization: `Basic ${b64(`${'x'.repeat(600)}:y`)}` } },
      { body: 'token=x&client_id=%00' },
      { body: 'token=x&client_id=a&client_id=b' },
      { body: `token=%00&client_id=${app.client_id}&client_secret=${app.client_secret}` },
      { body: 'token=x&token_type_hint=a&token_type_hint=b', headers: { authorization: basic(app) } },
      { body: `token=${'x'.repeat(9000)}`, headers: { authorization: basic(app) } },
      { body: '', headers: { authorization: basic(app) } },
      { body: 'token=x', type: 'text/plain', headers: { authorization: basic(app) } },
      { body: '--b\r\nContent-Disposition: form-data; name="token"\r\n\r\nx\r\n--b--', type: 'multipart/form-data; boundary=b' },
    ];
    for (const path of ['revocation', 'introspection']) {
      for (const c of cases) {
        const res = await fetch(`${url}/oidc/token/${path}`, {
          method: 'POST',
          headers: { 'content-type': c.type ?? 'application/x-www-form-urlencoded', ...c.headers },
          body: c.body ?? 'token=x',
        });
        const text = await res.text();
        expect([path, c, res.status < 500]).toEqual([path, c, true]);
        if (res.status >= 400) expect(JSON.parse(text)).toEqual({ error: expect.any(String), error_description: expect.any(String) });
      }
    }
  });
});

describe('RFC 7662 introspection', () => {
  it('O10: an active access token and refresh token of this client, with their claims', async () => {
    const tokens = await signIn();
    const at = decodeJwt(tokens.access_token);
    const access = await oidc.tokenIntrospection(rp, tokens.access_token);
    expect(access).toMatchObject({
      active: true,
      client_id: app.client_id,
      sub: tokens.claims()!.sub,
      sid: at.sid,
      exp: at.exp,
      iat: at.iat,
      token_type: 'Bearer',
      aud: world.service.publicUrl,
      iss: world.service.publicUrl,
      scope: at.scope,
    });
    const refresh = await oidc.tokenIntrospection(rp, tokens.refresh_token!, { token_type_hint: 'refresh_token' });
    expect(refresh).toMatchObject({
      active: true,
      client_id: app.client_id,
      sub: tokens.claims()!.sub,
      sid: at.sid,
      iss: world.service.publicUrl,
    });
    // A first-party client's grant implies offline_access (oidc-provider's issueRefreshToken), without it in the scope.
    expect(refresh.scope!.split(' ')).toEqual(expect.arrayContaining(['openid', 'profile', 'email']));
    expect(refresh.exp! > refresh.iat!).toBe(true);
    expect(refresh.token_type).toBeUndefined();
  });

  it('O10: another client’s token, an unknown or a garbage token, a spent refresh token: {active:false} and nothing else', async () => {
    const tokens = await signIn();
    for (const token of [tokens.access_token, tokens.refresh_token!]) {
      const res = await post('introspection', { token }, { authorization: basic(other) });
      expect([res.status, res.body]).toEqual([200, { active: false }]);
      expect(res.headers.get('cache-control')).toBe('no-store');
    }
    for (const token of ['nope', `${tokens.access_token.slice(0, -4)}AAAA`, tokens.id_token!]) {
      expect((await post('introspection', { token }, { authorization: basic(app) })).body).toEqual({ active: false });
    }
    const rotated = await oidc.refreshTokenGrant(rp, tokens.refresh_token!);
    expect((await oidc.tokenIntrospection(rp, tokens.refresh_token!)).active).toBe(false);
    expect((await oidc.tokenIntrospection(rp, rotated.refresh_token!)).active).toBe(true);
  });

  it('O10: inactive after revocation, and after the person revokes the session at /me/sessions', async () => {
    const revoked = await signIn();
    await oidc.tokenRevocation(rp, revoked.refresh_token!);
    for (const token of [revoked.access_token, revoked.refresh_token!])
      expect((await oidc.tokenIntrospection(rp, token)).active).toBe(false);

    const tokens = await signIn();
    const sid = decodeJwt(tokens.access_token).sid as string;
    expect((await callApi(url, 'DELETE', `/me/sessions/${sid}`, tokens.access_token)).status).toBe(204);
    for (const token of [tokens.access_token, tokens.refresh_token!]) expect((await oidc.tokenIntrospection(rp, token)).active).toBe(false);
  });
});

describe('a client’s life', () => {
  it('O11: disabling a client ends the sessions it holds, audited; enabling it again brings none back', async () => {
    const client = await op.register({ name: 'Short-lived', redirect_uris: [REDIRECT], first_party: true });
    const clientRp = await op.relyingParty(client);
    const browser = new TestBrowser();
    const { tokens } = await op.signInThroughUs(clientRp, browser, 'alice');
    const browserTokens = await signIn(rp);
    // A code issued before the client is disabled, in another browser, not yet exchanged: a grant with no session yet.
    const pending = await authorizationRequest(clientRp);
    const { back } = await op.browse(new TestBrowser(), pending.url, 'alice');
    expect(back.searchParams.get('code')).toBeTruthy();
    expect((await getJson(`${url}/me`, tokens.access_token)).status).toBe(200);
    expect((await callApi(url, 'PATCH', `/admin/clients/${client.client_id}`, adminToken, { disabled: true })).status).toBe(200);
    expect((await getJson(`${url}/me`, tokens.access_token)).status).toBe(401);
    expect((await callApi(url, 'PATCH', `/admin/clients/${client.client_id}`, adminToken, { disabled: false })).status).toBe(200);
    expect((await getJson(`${url}/me`, tokens.access_token)).status).toBe(401);
    expect((await fetch(`${url}/oidc/userinfo`, { headers: { authorization: `Bearer ${tokens.access_token}` } })).status).toBe(401);
    await expect(oidc.refreshTokenGrant(clientRp, tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    expect((await oidc.tokenIntrospection(clientRp, tokens.refresh_token!)).active).toBe(false);
    await expect(
      oidc.authorizationCodeGrant(clientRp, back, {
        pkceCodeVerifier: pending.verifier,
        expectedState: pending.state,
        expectedNonce: pending.nonce,
      }),
    ).rejects.toMatchObject({ error: 'invalid_grant' });
    // Another client's sign-in of the same person is untouched.
    expect((await getJson(`${url}/me`, browserTokens.access_token)).status).toBe(200);
    const audit = await callApi(url, 'GET', `/admin/audit?userId=${tokens.claims()!.sub}&type=session_revoked`, adminToken);
    expect(audit.body.items).toContainEqual(
      expect.objectContaining({ reason: 'client_disabled', details: { sessionId: decodeJwt(tokens.access_token).sid } }),
    );
  });

  it('O11: deleting a client ends the sessions it holds', async () => {
    const client = await op.register({ name: 'Deleted', redirect_uris: [REDIRECT], first_party: true });
    const tokens = await signIn(await op.relyingParty(client));
    expect((await callApi(url, 'DELETE', `/admin/clients/${client.client_id}`, adminToken)).status).toBe(204);
    expect((await getJson(`${url}/me`, tokens.access_token)).status).toBe(401);
    const audit = await callApi(url, 'GET', `/admin/audit?userId=${tokens.claims()!.sub}&type=session_revoked`, adminToken);
    expect(audit.body.items).toContainEqual(expect.objectContaining({ reason: 'client_deleted' }));
  });
});

describe('signing keys', () => {
  it('O12: an ID token signed before a key rotation is still a valid id_token_hint; new tokens use the new key', async () => {
    const browser = new TestBrowser();
    const before = await op.signInThroughUs(rp, browser, 'alice');
    const oldKid = decodeProtectedHeader(before.tokens.id_token!).kid;
    expect((await callApi(url, 'POST', '/admin/keys/rotate', adminToken)).status).toBeLessThan(300);

    // The authorization endpoint: prompt=none with the old ID token as hint signs in silently (no invalid_request).
    const fresh = await op.relyingParty(app);
    const attempt = await authorizationRequest(fresh, { prompt: 'none', id_token_hint: before.tokens.id_token! });
    const { back } = await op.browse(browser, attempt.url);
    expect(back.searchParams.get('error')).toBeNull();
    const after = await oidc.authorizationCodeGrant(fresh, back, {
      pkceCodeVerifier: attempt.verifier,
      expectedState: attempt.state,
      expectedNonce: attempt.nonce,
      idTokenExpected: true,
    });
    const newKid = decodeProtectedHeader(after.id_token!).kid;
    expect(newKid).not.toBe(oldKid);
    expect(decodeProtectedHeader(after.access_token).kid).toBe(newKid);
    const published = ((await getJson(`${url}/.well-known/jwks.json`)).body.keys as { kid: string }[]).map((k) => k.kid);
    expect(published[0]).toBe(newKid);

    // end_session: the old ID token proves whose session it is, so no confirmation page.
    const logout = oidc.buildEndSessionUrl(fresh, {
      id_token_hint: before.tokens.id_token!,
      post_logout_redirect_uri: LOGGED_OUT,
      state: 'k',
    });
    const page = await browser.request(logout.href);
    expect(page.status).toBe(200);
    expect(page.body).toContain('/assets/autosubmit.js');
    const done = await submitForm(browser, page);
    expect([done.status, done.headers.get('location')]).toEqual([303, `${LOGGED_OUT}?state=k`]);
    expect((await getJson(`${url}/me`, after.access_token)).status).toBe(401);
  });
});

describe('rate limits on /oidc/*', () => {
  let service: RunningService;

  beforeAll(async () => {
    service = await startService({
      OPENID_PROVIDER: 'true',
      DEMO_IDP: 'true',
      RATE_LIMITS: 'on',
      RATE_LIMIT_TOKEN: '3',
      RATE_LIMIT_SIGN_IN: '2',
    });
  });

  afterAll(async () => {
    await service?.close();
  });

  it('answers 429 rate_limited with Retry-After at the token, revocation and authorization endpoints, per client IP', async () => {
    const form = { 'content-type': 'application/x-www-form-urlencoded' };
    const token = () =>
      fetch(`${service.url}/oidc/token`, { method: 'POST', headers: form, body: 'grant_type=refresh_token&refresh_token=x' });
    const revoke = () => fetch(`${service.url}/oidc/token/revocation`, { method: 'POST', headers: form, body: 'token=x' });
    // The token endpoint and revocation share one allowance: 3 a minute here.
    expect((await token()).status).toBe(400);
    expect((await revoke()).status).toBe(401);
    expect((await token()).status).toBe(400);
    for (const limited of [await token(), await revoke()]) {
      expect(limited.status).toBe(429);
      expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(await limited.json()).toEqual({ error: 'rate_limited', error_description: expect.any(String) });
    }
    // The authorization endpoint counts as sign-in: 2 a minute here, then 429 (JSON, not a redirect anywhere).
    const auth = () => fetch(`${service.url}/oidc/auth?client_id=nobody&response_type=code&scope=openid`, { redirect: 'manual' });
    expect((await auth()).status).toBe(400);
    expect((await auth()).status).toBe(400);
    const limited = await auth();
    expect([limited.status, limited.headers.get('location')]).toEqual([429, null]);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    // Discovery and the keys are never limited.
    for (let i = 0; i < 5; i++) expect((await fetch(`${service.url}/oidc/.well-known/openid-configuration`)).status).toBe(200);
  });
});
