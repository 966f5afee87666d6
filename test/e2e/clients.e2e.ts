import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { DataSource } from 'typeorm';
import { ClientsService } from '../../src/clients/clients.service.js';
import { sha256 } from '../../src/common/crypto.js';
import { TestBrowser } from '../support/browser.js';
import { ManualClock, startService } from '../support/service.js';
import { callApi, getJson, signInAndGetTokens } from '../support/sign-in.js';
import { within } from '../support/within.js';
import { startWorld, type World } from '../support/world.js';

const run = promisify(execFile);
let world: World;
let url: string;
let adminToken: string;

type Json = Record<string, any>;
const call = (method: string, path: string, token?: string, body?: unknown) => callApi(url, method, path, token, body);
const createClient = async (body: Json) => {
  const res = await call('POST', '/admin/clients', adminToken, body);
  expect(res.status).toBe(201);
  return res.body as { client_id: string; client_secret: string };
};

/** POST /auth/token as a form, the way OAuth client libraries send it. */
async function tokenRequest(base: string, form: Record<string, string>, basic?: [string, string]) {
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' };
  // RFC 6749 §2.3.1: each part form-encoded, then Basic.
  if (basic) headers.authorization = `Basic ${Buffer.from(basic.map(encodeURIComponent).join(':')).toString('base64')}`;
  const res = await fetch(`${base}/auth/token`, { method: 'POST', headers, body: new URLSearchParams(form) });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Json };
}
const basicToken = (c: { client_id: string; client_secret: string }, form: Record<string, string> = {}) =>
  tokenRequest(url, { grant_type: 'client_credentials', ...form }, [c.client_id, c.client_secret]);

beforeAll(async () => {
  world = await startWorld({ ADMIN_EMAILS: 'root@corp.test' });
  url = world.service.url;
  world.corp.accounts.set('root', { email: 'root@corp.test', email_verified: true, name: 'Root' });
  adminToken = (await signInAndGetTokens(new TestBrowser(), url, 'corp', { login: 'root' })).tokens.access_token;
});

afterAll(async () => {
  await world?.close();
});

afterEach(() => {
  expect(world.service.serverErrors).toEqual([]);
});

describe('API clients managed by admins', () => {
  it('creates a client: the secret is shown once and stored only as a hash; list and show never include it', async () => {
    const created = await createClient({ name: 'report job', roles: ['reports'], scopes: ['reports:read', 'reports:write'] });
    expect(created).toMatchObject({ name: 'report job', roles: ['reports'], scopes: ['reports:read', 'reports:write'], disabled: false });
    expect(created.client_secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const rows = await world.service.app
      .get(DataSource)
      .query('SELECT * FROM api_clients WHERE client_id = $1'.replace('$1', '?'), [created.client_id])
      .catch(() => world.service.app.get(DataSource).query('SELECT * FROM api_clients WHERE client_id = $1', [created.client_id]));
    expect(rows[0].secret_hash).toBe(sha256(created.client_secret));
    expect(JSON.stringify(rows[0])).not.toContain(created.client_secret);
    const shown = await call('GET', `/admin/clients/${created.client_id}`, adminToken);
    expect(shown.body).toEqual(expect.objectContaining({ client_id: created.client_id, name: 'report job' }));
    expect(shown.body).not.toHaveProperty('client_secret');
    const listed = await call('GET', '/admin/clients', adminToken);
    expect(listed.body.map((c: Json) => c.client_id)).toContain(created.client_id);
    expect(JSON.stringify(listed.body)).not.toContain(created.client_secret);
    const audit = await call('GET', '/admin/audit?type=client_created&limit=100', adminToken);
    expect(audit.body.items).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ type: 'client_created', details: expect.objectContaining({ clientId: created.client_id }) }),
      ]),
    );
  });

  it('is for admins only, and refuses unknown fields and bad role or scope names', async () => {
    const { tokens } = await signInAndGetTokens(new TestBrowser(), url, 'acme', { login: 'plain-user' });
    expect((await call('POST', '/admin/clients', tokens.access_token, { name: 'x' })).status).toBe(403);
    expect((await call('GET', '/admin/clients')).status).toBe(401);
    for (const body of [
      { name: 'x', secret: 'mine' },
      { name: 'x', scopes: ['has space'] },
      { name: 'x', roles: ['1bad'] },
      { name: '' },
    ]) {
      const res = await call('POST', '/admin/clients', adminToken, body);
      expect(res.status).toBe(400);
      expect(res.body.error).toBe('invalid_request');
    }
    expect((await call('GET', '/admin/clients/svc-nope', adminToken)).status).toBe(404);
  });

  it('refuses control characters in a name (400), and answers a client id that can name no client with 404 on every route', async () => {
    const client = await createClient({ name: 'plain' });
    for (const name of ['a\u0000b', 'line\nbreak', 'tab\there', 'del\u007f', 'c1\u0085']) {
      for (const [method, path] of [
        ['POST', '/admin/clients'],
        ['PATCH', `/admin/clients/${client.client_id}`],
      ]) {
        expect([name, method, await call(method, path, adminToken, { name })]).toEqual([
          name,
          method,
          { status: 400, body: { error: 'invalid_request', error_description: expect.stringContaining('control characters') } },
        ]);
      }
    }
    // NUL and newline (PostgreSQL cannot hold NUL: these were 500s there), after a real id too, and longer than any id.
    for (const id of ['%00', 'svc-%00', `${client.client_id}%00`, `${client.client_id}%0A`, 'x'.repeat(65)]) {
      for (const [method, path, body] of [
        ['GET', `/admin/clients/${id}`],
        ['PATCH', `/admin/clients/${id}`, { name: 'x' }],
        ['DELETE', `/admin/clients/${id}`],
        ['POST', `/admin/clients/${id}/secret`, {}],
      ] as [string, string, Json?][]) {
        expect([method, path, await call(method, path, adminToken, body)]).toEqual([
          method,
          path,
          { status: 404, body: { error: 'not_found', error_description: expect.any(String) } },
        ]);
      }
    }
    expect((await call('GET', `/admin/clients/${client.client_id}`, adminToken)).body.name).toBe('plain');
  });
});

describe('the client-credentials grant (RFC 6749 §4.4)', () => {
  it('issues an RFC 9068 token by Basic and by form authentication, with no refresh token', async () => {
    const client = await createClient({ name: 'svc', roles: ['reports'], scopes: ['reports:read', 'reports:write'] });
    const basic = await basicToken(client);
    expect(basic.status).toBe(200);
    expect(basic.headers.get('cache-control')).toBe('no-store');
    expect(basic.body).toEqual({
      access_token: expect.any(String),
      token_type: 'Bearer',
      expires_in: 900,
      scope: 'reports:read reports:write',
    });
    const post = await tokenRequest(url, {
      grant_type: 'client_credentials',
      client_id: client.client_id,
      client_secret: client.client_secret,
    });
    expect(post.status).toBe(200);
    expect(post.body).not.toHaveProperty('refresh_token');
    expect(decodeProtectedHeader(post.body.access_token)).toMatchObject({ typ: 'at+jwt', alg: 'RS256' });
    const claims = decodeJwt(post.body.access_token);
    expect(claims).toMatchObject({
      sub: client.client_id,
      client_id: client.client_id,
      roles: ['reports'],
      scope: 'reports:read reports:write',
    });
    expect(claims).not.toHaveProperty('sid');
    // JSON bodies work too, as for the other grants.
    const json = await call('POST', '/auth/token', undefined, { grant_type: 'client_credentials', ...client, scope: 'reports:read' });
    expect(json.body.scope).toBe('reports:read');
  });

  it('narrows to the requested scopes and refuses one outside the allowed set (invalid_scope)', async () => {
    const client = await createClient({ name: 'scoped', scopes: ['a', 'b'] });
    const narrowed = await basicToken(client, { scope: 'b' });
    expect(narrowed.body.scope).toBe('b');
    expect(decodeJwt(narrowed.body.access_token).scope).toBe('b');
    const outside = await basicToken(client, { scope: 'a c' });
    expect(outside.status).toBe(400);
    expect(outside.body.error).toBe('invalid_scope');
  });

  it('lets @Roles() routes accept clients as they accept people, refuses another role, and keeps /me for people', async () => {
    const admin = await createClient({ name: 'admin robot', roles: ['admin'] });
    const reporter = await createClient({ name: 'reporter', roles: ['reports'] });
    const adminTok = (await basicToken(admin)).body.access_token;
    const reporterTok = (await basicToken(reporter)).body.access_token;
    expect((await call('GET', '/admin/users?limit=1', adminTok)).status).toBe(200);
    const refused = await call('GET', '/admin/users?limit=1', reporterTok);
    expect(refused).toEqual({ status: 403, body: { error: 'forbidden', error_description: expect.stringContaining('admin') } });
    expect((await call('GET', '/me', reporterTok)).status).toBe(403);
    expect((await call('GET', '/me/sessions', reporterTok)).status).toBe(403);
    expect((await call('POST', '/auth/logout', reporterTok)).status).toBe(400);
  });

  it('answers wrong secret and unknown client with invalid_client (401, Basic challenge), missing auth too', async () => {
    const client = await createClient({ name: 'victim' });
    const wrong = await basicToken({ client_id: client.client_id, client_secret: 'not-the-secret' });
    expect(wrong.status).toBe(401);
    expect(wrong.body.error).toBe('invalid_client');
    expect(wrong.headers.get('www-authenticate')).toMatch(/^Basic realm=/);
    const unknown = await tokenRequest(url, { grant_type: 'client_credentials', client_id: 'svc-unknown', client_secret: 'x' });
    expect(unknown.status).toBe(401);
    expect(unknown.body).toEqual(wrong.body);
    const none = await tokenRequest(url, { grant_type: 'client_credentials' });
    expect(none.status).toBe(401);
    expect(none.body.error).toBe('invalid_client');
    const both = await tokenRequest(url, { grant_type: 'client_credentials', client_secret: client.client_secret }, [
      client.client_id,
      client.client_secret,
    ]);
    expect(both.body.error).toBe('invalid_request');
    const audit = await call('GET', '/admin/audit?type=client_auth_failed&limit=100', adminToken);
    expect(audit.body.items.map((e: Json) => e.details.clientId)).toContain(client.client_id);
  });

  it('answers a client_id with a NUL or another control character as an unknown client (401 invalid_client), by form, JSON and Basic', async () => {
    const client = await createClient({ name: 'neighbour' });
    const unknown = await tokenRequest(url, { grant_type: 'client_credentials', client_id: 'svc-unknown', client_secret: 'x' });
    for (const id of ['svc-\u0000', `${client.client_id}\u0000`, 'a\nb', '\u0085']) {
      const answers = {
        form: await tokenRequest(url, { grant_type: 'client_credentials', client_id: id, client_secret: client.client_secret }),
        json: await call('POST', '/auth/token', undefined, { grant_type: 'client_credentials', client_id: id, client_secret: 'x' }),
        basic: await tokenRequest(url, { grant_type: 'client_credentials' }, [id, client.client_secret]),
      };
      for (const [how, answer] of Object.entries(answers))
        expect([JSON.stringify(id), how, answer.status, answer.body]).toEqual([JSON.stringify(id), how, 401, unknown.body]);
    }
    // The id as sent in the issue: "a%00b" inside Basic, form-decoded to a NUL.
    const raw = await fetch(`${url}/auth/token`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from('a%00b:secret').toString('base64')}`,
      },
      body: 'grant_type=client_credentials',
    });
    expect([raw.status, await raw.json()]).toEqual([401, unknown.body]);
  });

  it('disabling refuses new tokens (unauthorized_client) and ends the current ones on every instance within 1 s', async () => {
    const client = await createClient({ name: 'to disable', roles: ['admin'] });
    const token = (await basicToken(client)).body.access_token;
    const second = await world.secondInstance();
    try {
      expect((await getJson(`${second.url}/admin/clients`, token)).status).toBe(200);
      expect((await call('PATCH', `/admin/clients/${client.client_id}`, adminToken, { disabled: true })).body.disabled).toBe(true);
      await within(1000, async () => (await getJson(`${second.url}/admin/clients`, token)).status === 401);
      const refused = await basicToken(client);
      expect(refused.status).toBe(400);
      expect(refused.body.error).toBe('unauthorized_client');
      await call('PATCH', `/admin/clients/${client.client_id}`, adminToken, { disabled: false });
      const fresh = (await basicToken(client)).body.access_token;
      expect((await getJson(`${second.url}/admin/clients`, fresh)).status).toBe(200);
      await call('DELETE', `/admin/clients/${client.client_id}`, adminToken);
      await within(1000, async () => (await getJson(`${second.url}/admin/clients`, fresh)).status === 401);
      expect((await basicToken(client)).body.error).toBe('invalid_client');
    } finally {
      await second.close();
    }
  });

  it('publishes the grant and the client authentication methods in the metadata', async () => {
    const meta = (await getJson(`${url}/.well-known/openid-configuration`)).body;
    expect(meta.grant_types_supported).toContain('client_credentials');
    expect(meta.token_endpoint_auth_methods_supported).toEqual(expect.arrayContaining(['client_secret_basic', 'client_secret_post']));
  });
});

describe('secret rotation', () => {
  it('keeps the previous secret for the grace period, then only the new one works', async () => {
    const clock = new ManualClock();
    const service = await startService({ CLIENT_SECRET_GRACE_PERIOD: '3600' }, { clock });
    try {
      const clients = service.app.get(ClientsService);
      const ctx = { ip: null, userAgent: null };
      const first = await clients.create({ name: 'rotating' }, 'test', ctx);
      const form = (secret: string) => tokenRequest(service.url, { grant_type: 'client_credentials' }, [first.client_id, secret]);
      const second = await clients.rotateSecret(first.client_id, undefined, 'test', ctx);
      expect(second.previous_secret_expires_at).toBe(new Date(clock.now() + 3_600_000).toISOString());
      expect((await form(first.client_secret)).status).toBe(200);
      expect((await form(second.client_secret)).status).toBe(200);
      clock.advance(3_600_001);
      expect((await form(first.client_secret)).body.error).toBe('invalid_client');
      expect((await form(second.client_secret)).status).toBe(200);
      // A grace period of 0 ends the old secret at once (a leaked one).
      const third = await clients.rotateSecret(first.client_id, 0, 'test', ctx);
      expect((await form(second.client_secret)).body.error).toBe('invalid_client');
      expect((await form(third.client_secret)).status).toBe(200);
    } finally {
      await service.close();
    }
  });
});

describe('failed client authentication is rate limited per IP', () => {
  it('after RATE_LIMIT_CLIENT_AUTH_FAILURES failures, even the right secret gets 429 with Retry-After', async () => {
    const service = await startService({ RATE_LIMITS: 'on', RATE_LIMIT_CLIENT_AUTH_FAILURES: '3' });
    try {
      const client = await service.app.get(ClientsService).create({ name: 'limited' }, 'test', { ip: null, userAgent: null });
      const attempt = (secret: string) => tokenRequest(service.url, { grant_type: 'client_credentials' }, [client.client_id, secret]);
      // Real concurrency: the failures are counted atomically, not lost to a race.
      const failures = await Promise.all(Array.from({ length: 4 }, () => attempt('wrong')));
      expect(failures.map((f) => f.status)).toEqual([401, 401, 401, 401]);
      const blocked = await attempt(client.client_secret);
      expect(blocked.status).toBe(429);
      expect(blocked.body.error).toBe('rate_limited');
      expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThan(0);
    } finally {
      await service.close();
    }
  });
});

/** The classic Python client (oauthlib + requests-oauthlib), unchanged, against the running service. */
const PYTHON = ['/usr/bin/python3', 'python3'];
async function pythonWithOauthlib(): Promise<string | undefined> {
  for (const python of PYTHON) {
    if (python.startsWith('/') && !existsSync(python)) continue;
    try {
      await run(python, ['-c', 'import requests_oauthlib, oauthlib']);
      return python;
    } catch {
      // not this one
    }
  }
  return undefined;
}

const SNIPPET = `
import json, os, sys
from oauthlib.oauth2 import BackendApplicationClient
from requests_oauthlib import OAuth2Session
client_id, client_secret, token_url = os.environ['CLIENT_ID'], os.environ['CLIENT_SECRET'], os.environ['TOKEN_URL']
client = BackendApplicationClient(client_id=client_id)
oauth = OAuth2Session(client=client)
token = oauth.fetch_token(token_url=token_url, client_id=client_id, client_secret=client_secret)
print(json.dumps(token))
`;

describe('a real client: Python oauthlib + requests-oauthlib', () => {
  it('obtains a token with the snippet from the issue, unchanged, and calls a role-protected route with it', async () => {
    const python = await pythonWithOauthlib();
    if (!python) {
      console.warn('SKIPPED: no python3 with requests_oauthlib (apt-get install -y python3-requests-oauthlib)');
      if (process.env.REQUIRE_SERVICES) throw new Error('python3-requests-oauthlib is required in CI');
      return;
    }
    const client = await createClient({ name: 'python job', roles: ['admin'], scopes: ['jobs'] });
    const { stdout } = await run(python, ['-c', SNIPPET], {
      env: {
        ...process.env,
        CLIENT_ID: client.client_id,
        CLIENT_SECRET: client.client_secret,
        TOKEN_URL: `${url}/auth/token`,
        // oauthlib refuses plain http unless told; the test service listens on http://127.0.0.1.
        OAUTHLIB_INSECURE_TRANSPORT: '1',
      },
    });
    const token = JSON.parse(stdout) as Json;
    expect(token).toMatchObject({ token_type: 'Bearer', expires_in: 900, scope: ['jobs'] });
    expect(decodeJwt(token.access_token).client_id).toBe(client.client_id);
    expect((await call('GET', '/admin/users?limit=1', token.access_token)).status).toBe(200);
  });
});
