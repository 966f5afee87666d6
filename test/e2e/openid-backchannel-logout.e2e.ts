import type { IncomingMessage, ServerResponse } from 'node:http';
import * as oidc from 'openid-client';
import { createRemoteJWKSet, decodeJwt, jwtVerify, type JWTPayload } from 'jose';
import { TestBrowser } from '../support/browser.js';
import { freePort, listenLocal } from '../support/net.js';
import { createTestDatabase, postgresAvailable } from '../support/postgres.js';
import { startServiceProcess } from '../support/process.js';
import { BackchannelLogoutService } from '../../src/oidc/backchannel-logout.service.js';
import { Database } from '../../src/database/db.service.js';
import { LOGGED_OUT, REDIRECT, authorizationRequest, startOpenIdWorld, submitForm, type OpenIdWorld } from '../support/relying-party.js';
import { callApi, getJson } from '../support/sign-in.js';
import { within } from '../support/within.js';
import type { World } from '../support/world.js';

/**
 * Back-Channel Logout 1.0 (issue 17, SECURITY.md O7): every way a session ends tells each client with a
 * backchannel_logout_uri that got tokens in it, once, with a logout token signed by our key, off the request path.
 * The clients' receivers are real HTTP servers on 127.0.0.1; the tokens are checked with jose against our JWKS.
 */
const EVENT = 'http://schemas.openid.net/event/backchannel-logout';
const RETRY_ENV = { BACKCHANNEL_LOGOUT_ATTEMPTS: '3', BACKCHANNEL_LOGOUT_RETRY_MS: '150', BACKCHANNEL_LOGOUT_TIMEOUT_MS: '1000' };

interface Received {
  path: string;
  method: string;
  contentType: string;
  body: string;
  logoutToken: string;
  /** When it arrived (ms). */
  at: number;
}

/** The clients' back-channel logout endpoints: records every request; a path may be told what to answer first. */
async function startReceiver() {
  const received: Received[] = [];
  const plans = new Map<string, number[]>();
  const server = await listenLocal((req: IncomingMessage, res: ServerResponse) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      const path = req.url ?? '';
      received.push({
        path,
        method: req.method ?? '',
        contentType: req.headers['content-type'] ?? '',
        body,
        logoutToken: new URLSearchParams(body).get('logout_token') ?? '',
        at: Date.now(),
      });
      const status = plans.get(path)?.shift() ?? 200;
      // 0: the client holds the request and never answers.
      if (status === 0) return;
      // §2.8: the RP answers 200 with Cache-Control: no-store.
      res.writeHead(status, { 'cache-control': 'no-store', ...(status >= 300 && status < 400 ? { location: '/followed' } : {}) });
      res.end();
    });
  });
  return {
    url: server.url,
    received,
    at: (path: string) => received.filter((r) => r.path === path),
    plan: (path: string, statuses: number[]) => plans.set(path, [...statuses]),
    close: () => {
      server.server.closeAllConnections();
      return server.close();
    },
  };
}
type Receiver = Awaited<ReturnType<typeof startReceiver>>;

let op: OpenIdWorld;
let world: World;
let url: string;
let receiver: Receiver;
let jwks: ReturnType<typeof createRemoteJWKSet>;
let n = 0;
/** Receiver paths told to fail before they answer 200. */
const retried = new Set<string>();

beforeAll(async () => {
  op = await startOpenIdWorld(RETRY_ENV);
  ({ world, url } = op);
  receiver = await startReceiver();
  jwks = createRemoteJWKSet(new URL(`${url}/.well-known/jwks.json`));
});

afterAll(async () => {
  await world?.close();
  await receiver?.close();
});

afterEach(() => {
  expect(world.service.serverErrors).toEqual([]);
});

/** A first-party client whose back-channel logout URI is a fresh path of the receiver (or `uri`, or none). */
async function client(o: OpenIdWorld, opts: { uri?: string | null; name?: string } = {}) {
  const path = `/bcl/${++n}`;
  const uri = opts.uri === undefined ? `${receiver.url}${path}` : opts.uri;
  const registered = await o.register({
    name: opts.name ?? `App ${n}`,
    redirect_uris: [REDIRECT],
    post_logout_redirect_uris: [LOGGED_OUT],
    first_party: true,
    ...(uri ? { backchannel_logout_uri: uri } : {}),
  });
  return { ...registered, path, rp: await o.relyingParty(registered) };
}
type Client = Awaited<ReturnType<typeof client>>;

/** A person signs in to the client in this browser (a fresh person per test unless told). */
async function signIn(c: Client, browser = new TestBrowser(), login?: string, o: OpenIdWorld = op) {
  const signed = await o.signInThroughUs(c.rp, browser, login ?? `bcl-${++n}`);
  const id = signed.tokens.claims()!;
  return { ...signed, browser, sub: id.sub, sid: id.sid as string };
}

/** The logout token checked as a relying party must (Back-Channel Logout 1.0 §2.6), against our JWKS. */
async function verifyLogoutToken(token: string, c: { client_id: string }, o: OpenIdWorld = op): Promise<JWTPayload> {
  const keys = o === op ? jwks : createRemoteJWKSet(new URL(`${o.url}/.well-known/jwks.json`));
  const issuer = o.world.service.publicUrl;
  const { payload, protectedHeader } = await jwtVerify(token, keys, { issuer, audience: c.client_id, typ: 'logout+jwt' });
  expect(protectedHeader.typ).toBe('logout+jwt');
  expect(payload.events).toEqual({ [EVENT]: {} });
  expect(payload).not.toHaveProperty('nonce');
  expect(typeof payload.jti).toBe('string');
  expect(typeof payload.iat).toBe('number');
  // Short-lived: two minutes.
  expect(payload.exp! - payload.iat!).toBeLessThanOrEqual(120);
  return payload;
}

async function audit(type: string, userId: string) {
  const res = await callApi(url, 'GET', `/admin/audit?userId=${userId}&type=${type}`, op.adminToken);
  return res.body.items as { reason: string; actorId: string; details: Record<string, unknown> }[];
}

/** Waits until the client's receiver has its logout token and the delivery is audited; exactly one, for that sid. */
async function expectOneLogoutToken(c: Client, who: { sub: string; sid: string }) {
  await within(10_000, async () => (await audit('logout_notification_sent', who.sub)).some((e) => e.details.clientId === c.client_id));
  const got = receiver.at(c.path);
  expect(got).toHaveLength(1);
  expect(got[0].method).toBe('POST');
  expect(got[0].contentType).toBe('application/x-www-form-urlencoded');
  expect([...new URLSearchParams(got[0].body).keys()]).toEqual(['logout_token']);
  const claims = await verifyLogoutToken(got[0].logoutToken, c);
  expect(claims).toMatchObject({ sub: who.sub, sid: who.sid, aud: c.client_id });
  return claims;
}

describe('discovery', () => {
  it('O7: states back-channel logout with sid, as oidc-provider’s own document does', async () => {
    const ours = (await getJson(`${url}/.well-known/openid-configuration`)).body;
    const theirs = (await getJson(`${url}/oidc/.well-known/openid-configuration`)).body;
    expect([ours.backchannel_logout_supported, ours.backchannel_logout_session_supported]).toEqual([true, true]);
    expect([theirs.backchannel_logout_supported, theirs.backchannel_logout_session_supported]).toEqual([true, true]);
  });
});

describe('every way a session ends sends one logout token', () => {
  it('O7: RP-initiated logout', async () => {
    const c = await client(op);
    const s = await signIn(c);
    const page = await s.browser.request(
      oidc.buildEndSessionUrl(c.rp, { id_token_hint: s.tokens.id_token!, post_logout_redirect_uri: LOGGED_OUT }).href,
    );
    expect((await submitForm(s.browser, page)).status).toBe(303);
    await expectOneLogoutToken(c, s);
  });

  it('O7: POST /auth/logout with the client’s access token', async () => {
    const c = await client(op);
    const s = await signIn(c);
    expect((await callApi(url, 'POST', '/auth/logout', s.tokens.access_token)).status).toBe(204);
    await expectOneLogoutToken(c, s);
  });

  it('O7: sign out everywhere (DELETE /me/sessions)', async () => {
    const c = await client(op);
    const s = await signIn(c);
    expect((await callApi(url, 'DELETE', '/me/sessions', s.tokens.access_token)).status).toBe(200);
    await expectOneLogoutToken(c, s);
  });

  it('O7: an admin revokes the person’s sessions', async () => {
    const c = await client(op);
    const s = await signIn(c);
    expect((await callApi(url, 'POST', `/admin/users/${s.sub}/sessions/revoke`, op.adminToken)).status).toBeLessThan(300);
    await expectOneLogoutToken(c, s);
  });

  it('O7: an admin disables the person', async () => {
    const c = await client(op);
    const s = await signIn(c);
    expect((await callApi(url, 'PATCH', `/admin/users/${s.sub}`, op.adminToken, { disabled: true })).status).toBe(200);
    await expectOneLogoutToken(c, s);
  });

  it('O7: an admin deletes the person', async () => {
    const c = await client(op);
    const s = await signIn(c);
    expect((await callApi(url, 'DELETE', `/admin/users/${s.sub}`, op.adminToken)).status).toBe(204);
    await expectOneLogoutToken(c, s);
  });

  it('O7: refresh-token reuse', async () => {
    const c = await client(op);
    const s = await signIn(c);
    const refreshed = await oidc.refreshTokenGrant(c.rp, s.tokens.refresh_token!);
    expect(refreshed.refresh_token).toBeTruthy();
    await expect(oidc.refreshTokenGrant(c.rp, s.tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    await expectOneLogoutToken(c, s);
  });

  /** As if the session had last been used (or had been created) long ago: what a clock moving on would do to it. */
  async function ageSession(c: Client, who: { sub: string }, set: 'last_used_at' | 'expires_at', to: number) {
    const { affected } = await op.world.service.app
      .get(Database)
      .sql(
        `UPDATE sessions SET ${set} = :to WHERE id IN (SELECT session_id FROM oidc_grant_sessions WHERE user_id = :sub AND client_id = :client)`,
        {
          to,
          sub: who.sub,
          client: c.client_id,
        },
      );
    expect(affected).toBe(1);
  }

  it('O7: a session that runs out unused (REFRESH_IDLE_TTL), with no request at that moment', async () => {
    const c = await client(op);
    const s = await signIn(c);
    await ageSession(c, s, 'last_used_at', Date.now() - op.world.service.config.jwt.refreshIdleTtl * 1000 - 1000);
    await expectOneLogoutToken(c, s);
    // Ended indeed: its refresh token is refused.
    await expect(oidc.refreshTokenGrant(c.rp, s.tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
  });

  it('O7: a session that reaches its lifetime (REFRESH_TOKEN_TTL)', async () => {
    const c = await client(op);
    const s = await signIn(c);
    await ageSession(c, s, 'expires_at', Date.now() - 1000);
    await expectOneLogoutToken(c, s);
  });

  it('O7: authorization code reuse', async () => {
    const c = await client(op);
    const attempt = await authorizationRequest(c.rp);
    const { back } = await op.browse(new TestBrowser(), attempt.url, `bcl-${++n}`);
    const form = {
      grant_type: 'authorization_code',
      code: back.searchParams.get('code')!,
      redirect_uri: REDIRECT,
      code_verifier: attempt.verifier,
    };
    const first = await op.tokenRequest(form, c);
    expect(first.status).toBe(200);
    const id = decodeJwt(first.body.id_token as string);
    expect((await op.tokenRequest(form, c)).body.error).toBe('invalid_grant');
    await expectOneLogoutToken(c, { sub: id.sub!, sid: id.sid as string });
  });

  it('O7: a change that ends no session (roles taken away: only the access tokens go) sends nothing', async () => {
    const c = await client(op);
    const s = await signIn(c);
    expect((await callApi(url, 'PATCH', `/admin/users/${s.sub}`, op.adminToken, { roles: ['admin'] })).status).toBe(200);
    expect((await callApi(url, 'PATCH', `/admin/users/${s.sub}`, op.adminToken, { roles: [] })).status).toBe(200);
    // Then someone else's session ends: once that one is delivered, the looks have read the role change's feed rows.
    const other = await client(op);
    const t = await signIn(other);
    expect((await callApi(url, 'POST', '/auth/logout', t.tokens.access_token)).status).toBe(204);
    await expectOneLogoutToken(other, t);
    expect(receiver.at(c.path)).toEqual([]);
    expect(await audit('logout_notification_sent', s.sub)).toEqual([]);
  });

  it('O7: signing out at our pages tells both clients of that browser session; one without a URI gets nothing', async () => {
    const a = await client(op);
    const b = await client(op);
    const quiet = await client(op, { uri: null });
    const login = `bcl-${++n}`;
    const s = await signIn(a, new TestBrowser(), login);
    const t = await signIn(b, s.browser);
    const q = await signIn(quiet, s.browser);
    expect(t.sawSignInPage || q.sawSignInPage).toBe(false);
    const page = await s.browser.request(`${url}/account`);
    const csrf = /<meta name="csrf-token" content="([^"]+)">/.exec(page.body)![1];
    expect((await s.browser.request(`${url}/session/logout`, { method: 'POST', headers: { 'x-csrf-token': csrf } })).status).toBe(204);
    const first = await expectOneLogoutToken(a, s);
    const second = await expectOneLogoutToken(b, t);
    expect(first.jti).not.toBe(second.jti);
    const told = [...(await audit('logout_notification_sent', s.sub)), ...(await audit('logout_notification_failed', s.sub))];
    expect(told.map((e) => e.details.clientId).sort()).toEqual([a.client_id, b.client_id].sort());
    expect(told.some((e) => e.details.clientId === quiet.client_id)).toBe(false);
    // What the clients were told is true: the end of the browser session ended the sessions signed in through it, so
    // no client refreshes after being told "logged out" (Back-Channel Logout 1.0 §2.7), the quiet one included.
    for (const [c, signed] of [
      [a, s],
      [b, t],
      [quiet, q],
    ] as const) {
      await expect(oidc.refreshTokenGrant(c.rp, signed.tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
      expect((await getJson(`${url}/me`, signed.tokens.access_token)).status).toBe(401);
    }
  });
});

describe('delivery', () => {
  it('O7: a client that answers 500, then a redirect, then 200 is retried, never redirected, and audited', async () => {
    const c = await client(op);
    receiver.plan(c.path, [500, 302]);
    retried.add(c.path);
    const s = await signIn(c);
    expect((await callApi(url, 'POST', '/auth/logout', s.tokens.access_token)).status).toBe(204);
    await within(10_000, async () => (await audit('logout_notification_sent', s.sub)).some((e) => e.details.clientId === c.client_id));
    const got = receiver.at(c.path);
    expect(got).toHaveLength(3);
    expect(receiver.at('/followed')).toHaveLength(0);
    const tokens = await Promise.all(got.map((r) => verifyLogoutToken(r.logoutToken, c)));
    for (const t of tokens) expect(t).toMatchObject({ sub: s.sub, sid: s.sid });
    expect(new Set(tokens.map((t) => t.jti)).size).toBe(3);
    const failed = (await audit('logout_notification_failed', s.sub)).filter((e) => e.details.clientId === c.client_id);
    expect(failed.map((e) => [e.details.attempt, e.details.status, e.reason]).sort()).toEqual([
      [1, '500', 'back-channel logout: will retry'],
      [2, '302', 'back-channel logout: will retry'],
    ]);
    const sent = (await audit('logout_notification_sent', s.sub)).filter((e) => e.details.clientId === c.client_id);
    expect(sent.map((e) => [e.details.attempt, e.details.status, e.details.sessionId])).toEqual([
      [3, '200', decodeJwt(s.tokens.access_token).sid],
    ]);
  });

  it('O7: a client that never answers: the logout has answered long before the attempt times out', async () => {
    const c = await client(op);
    receiver.plan(c.path, [0, 0, 0]);
    retried.add(c.path);
    const s = await signIn(c);
    expect((await callApi(url, 'POST', '/auth/logout', s.tokens.access_token)).status).toBe(204);
    const answered = Date.now();
    await within(15_000, async () => (await audit('logout_notification_failed', s.sub)).some((e) => e.reason.endsWith('given up')));
    // Each attempt waited BACKCHANNEL_LOGOUT_TIMEOUT_MS (1 s) for the client; the logout waited for none of them.
    expect(answered).toBeLessThan(receiver.at(c.path)[0].at + 1000);
    const failed = (await audit('logout_notification_failed', s.sub)).filter((e) => e.details.clientId === c.client_id);
    expect(failed.map((e) => [e.details.attempt, e.details.status]).sort()).toEqual([
      [1, 'timeout'],
      [2, 'timeout'],
      [3, 'timeout'],
    ]);
  });

  it('O7: a client that is down: the logout answers; the bounded retries fail and are audited', async () => {
    const down = `http://127.0.0.1:${await freePort()}/down`;
    const c = await client(op, { uri: down });
    const s = await signIn(c);
    expect((await callApi(url, 'POST', '/auth/logout', s.tokens.access_token)).status).toBe(204);
    await within(15_000, async () =>
      (await audit('logout_notification_failed', s.sub)).some((e) => e.reason === 'back-channel logout: given up'),
    );
    const failed = (await audit('logout_notification_failed', s.sub)).filter((e) => e.details.clientId === c.client_id);
    expect(failed.map((e) => e.details.attempt).sort()).toEqual([1, 2, 3]);
    expect(failed.every((e) => e.details.status === 'ECONNREFUSED')).toBe(true);
    expect(await audit('logout_notification_sent', s.sub)).toEqual([]);
  });

  it('O7: a client disabled since the sign-in is sent nothing (no token is minted for it); audited', async () => {
    const c = await client(op);
    const s = await signIn(c);
    expect((await callApi(url, 'PATCH', `/admin/clients/${c.client_id}`, op.adminToken, { disabled: true })).status).toBe(200);
    expect((await callApi(url, 'POST', `/admin/users/${s.sub}/sessions/revoke`, op.adminToken)).status).toBeLessThan(300);
    await within(10_000, async () => (await audit('logout_notification_failed', s.sub)).length === 1);
    const [failed] = await audit('logout_notification_failed', s.sub);
    expect([failed.details.clientId, failed.details.status]).toEqual([c.client_id, 'client_unavailable']);
    expect(receiver.at(c.path)).toEqual([]);
  });

  it('O7: no client got a second token for a session (after every test above, many looks later)', async () => {
    const requests = new Map<string, number>();
    for (const r of receiver.received.filter((x) => x.path.startsWith('/bcl/'))) {
      const k = `${r.path} ${key(r.logoutToken)}`;
      requests.set(k, (requests.get(k) ?? 0) + 1);
    }
    expect(requests.size).toBeGreaterThan(0);
    // One request per (client, sid), but for the clients told to fail first: one per attempt.
    for (const [k, count] of requests) expect([k, count]).toEqual([k, retried.has(k.split(' ')[0]) ? 3 : 1]);
  });
});

const pgUp = await postgresAvailable();

(pgUp ? describe : describe.skip)('PostgreSQL, two service instances', () => {
  let pgOp: OpenIdWorld;
  let other: Awaited<ReturnType<typeof startServiceProcess>> | undefined;
  let drop: (() => Promise<void>) | undefined;

  // Two worlds' worth of start-up (stand-ins, this instance, a process that discovers every provider): slow on a busy
  // 2-core machine.
  beforeAll(async () => {
    const db = await createTestDatabase();
    drop = db.drop;
    pgOp = await startOpenIdWorld(RETRY_ENV, { databaseUrl: db.url });
    other = await startServiceProcess({ ...pgOp.world.env, DATABASE_URL: db.url, PUBLIC_URL: pgOp.world.service.publicUrl });
  }, 90_000);

  afterAll(async () => {
    await other?.stop();
    await pgOp?.world.close();
    await drop?.();
  });

  it('O7: with two instances (this process and `node dist/main.js`) on one database, each logout token is delivered once', async () => {
    const clients = await Promise.all([client(pgOp), client(pgOp)]);
    // Six people, each signed in to both clients in one browser: twelve deliveries for the two instances to race for.
    const people = await Promise.all(
      Array.from({ length: 6 }, async () => {
        const browser = new TestBrowser();
        const login = `bcl-pg-${++n}`;
        const first = await signIn(clients[0], browser, login, pgOp);
        const second = await signIn(clients[1], browser, login, pgOp);
        return { first, second };
      }),
    );
    // Every session ends at once, half of them through each instance.
    await Promise.all(
      people.map((p, i) => callApi(i % 2 ? other!.url : pgOp.url, 'POST', `/admin/users/${p.first.sub}/sessions/revoke`, pgOp.adminToken)),
    );
    const expected = new Set(people.flatMap((p) => [`${clients[0].client_id} ${p.first.sid}`, `${clients[1].client_id} ${p.second.sid}`]));
    const seen = () => clients.flatMap((c) => receiver.at(c.path).map((r) => key(r.logoutToken)));
    await within(15_000, async () => new Set(seen()).size === expected.size);
    // Every delivery audited as sent once (the loser of a claim neither sends nor audits): then count.
    await within(10_000, async () => {
      const audited = await Promise.all(people.map(async (p) => (await sentAudits(pgOp, p.first.sub)).length));
      return audited.every((count) => count === 2);
    });
    expect(new Set(seen())).toEqual(expected);
    expect(seen()).toHaveLength(expected.size);
    for (const c of clients) for (const r of receiver.at(c.path)) await verifyLogoutToken(r.logoutToken, c, pgOp);
  }, 90_000);

  it('O7: the separate process delivers to a loopback URI registered by an admin (oidc-provider’s own fetch would refuse it)', async () => {
    // Only `node dist/main.js` sends from now on: this instance stops looking. There, unlike under Jest, oidc-provider's
    // fetch refuses special-use addresses such as 127.0.0.1 (helpers/fetch_request.js); our sends are let through.
    await pgOp.world.service.app.get(BackchannelLogoutService).onModuleDestroy();
    const c = await client(pgOp);
    const s = await signIn(c, new TestBrowser(), undefined, pgOp);
    expect((await callApi(pgOp.url, 'POST', '/auth/logout', s.tokens.access_token)).status).toBe(204);
    await within(10_000, async () => receiver.at(c.path).length === 1);
    expect(await verifyLogoutToken(receiver.at(c.path)[0].logoutToken, c, pgOp)).toMatchObject({ sub: s.sub, sid: s.sid });
    await within(10_000, async () => (await sentAudits(pgOp, s.sub)).length === 1);
  });
});

const key = (token: string) => {
  const claims = decodeJwt(token);
  return `${String(claims.aud)} ${String(claims.sid)}`;
};

async function sentAudits(o: OpenIdWorld, userId: string) {
  const res = await callApi(o.url, 'GET', `/admin/audit?userId=${userId}&type=logout_notification_sent`, o.adminToken);
  return res.body.items as unknown[];
}
