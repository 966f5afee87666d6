import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { PageSessionService } from '../../src/auth/page-session.service.js';
import { connect } from 'node:net';
import { insertSession } from '../support/factories.js';
import { startService, type RunningService } from '../support/service.js';

/**
 * cookie-parser JSON-decodes values that start with `j:` (and their %-encoded form): none of our cookies is JSON, so
 * each such value must read as no cookie at all (SECURITY.md L2), on every route that reads one.
 */
const FOREIGN_COOKIE_VALUES = ['j:{}', 'j:[]', 'j:"x"', 'j:null', 'j:%7B%22a%22%3A%7B%7D%7D', 'j:1', 'garbage', 'v1.a.b.c'];

async function expectForeignCookiesIgnored(service: RunningService, prefix: '' | '__Host-') {
  const state = 'A'.repeat(43);
  const login = `${prefix}login_${state.slice(0, 12)}`;
  const session = `${prefix}sls_session`;
  const iss = encodeURIComponent(`${service.publicUrl}/demo-idp`);
  // Each route that reads a cookie, with what it answers when that cookie is absent.
  const routes: { path: string; cookie: string; method?: string; status: number; to?: string | RegExp }[] = [
    { path: '/', cookie: session, status: 200 },
    { path: '/account', cookie: session, status: 303, to: '/' },
    { path: '/admin', cookie: session, status: 303, to: '/?error=session_expired' },
    { path: '/me', cookie: session, status: 401 },
    { path: '/session/logout', cookie: session, method: 'POST', status: 401 },
    { path: '/auth/demo/login', cookie: login, status: 302, to: /\/demo-idp\/auth\?/ },
    { path: `/auth/demo/callback?code=x&state=${state}&iss=${iss}`, cookie: login, status: 302, to: /[?&]error=invalid_state&/ },
    { path: '/session/callback?code=x', cookie: 'sls_page_pkce', status: 303, to: '/?error=invalid_state' },
  ];
  for (const value of FOREIGN_COOKIE_VALUES) {
    for (const { path, cookie, method = 'GET', status, to } of routes) {
      const res = await fetch(`${service.url}${path}`, { method, redirect: 'manual', headers: { cookie: `${cookie}=${value}` } });
      const request = `${method} ${path} with ${cookie}=${value}`;
      expect({ request, status: res.status, to: res.headers.get('location') ?? undefined }).toEqual({
        request,
        status,
        to: to instanceof RegExp ? expect.stringMatching(to) : to,
      });
    }
  }
}

/** HTTP-level behaviour every route shares: headers, CORS, errors as JSON, limits. */
describe('HTTP surface', () => {
  let service: RunningService;

  beforeAll(async () => {
    service = await startService({ ALLOWED_RETURN_URLS: 'https://app.example.com,https://other.example.com/cb' });
  });

  afterAll(async () => {
    await service?.close();
  });

  afterEach(() => {
    expect(service.serverErrors).toEqual([]);
  });

  it('F8: sends security headers (helmet, Referrer-Policy no-referrer) and no X-Powered-By', async () => {
    const res = await fetch(`${service.url}/auth/providers`);
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('referrer-policy')).toBe('no-referrer');
    expect(res.headers.get('x-frame-options')).toBe('SAMEORIGIN');
    expect(res.headers.get('x-powered-by')).toBeNull();
  });

  it('allows CORS from the ALLOWED_RETURN_URLS origins only', async () => {
    const preflight = (origin: string) =>
      fetch(`${service.url}/auth/token`, {
        method: 'OPTIONS',
        headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' },
      });
    expect((await preflight('https://app.example.com')).headers.get('access-control-allow-origin')).toBe('https://app.example.com');
    expect((await preflight('https://other.example.com')).headers.get('access-control-allow-origin')).toBe('https://other.example.com');
    expect((await preflight('https://evil.example')).headers.get('access-control-allow-origin')).toBeNull();
  });

  it('answers unknown routes, oversized and malformed bodies with 4xx JSON', async () => {
    const missing = await fetch(`${service.url}/nope`);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({ error: 'not_found', error_description: expect.any(String) });
    const big = await fetch(`${service.url}/auth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ grant_type: 'x'.repeat(40_000) }),
    });
    expect(big.status).toBe(413);
    expect(await big.json()).toEqual({ error: 'payload_too_large', error_description: expect.any(String) });
    const bad = await fetch(`${service.url}/auth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"a":',
    });
    expect(bad.status).toBe(400);
  });

  it('answers what the body parser and the static files refuse with that 4xx status as JSON, never a 500', async () => {
    const refused: [string, string, Record<string, string>, string | undefined, number, string][] = [
      ['POST', '/auth/token', { 'content-type': 'application/json; charset=latin1' }, '{"grant_type":"x"}', 415, 'unsupported_media_type'],
      [
        'POST',
        '/auth/token',
        { 'content-type': 'application/x-www-form-urlencoded; charset=koi8-r' },
        'grant_type=x',
        415,
        'unsupported_media_type',
      ],
      [
        'POST',
        '/auth/token',
        { 'content-type': 'application/json', 'content-encoding': 'foo' },
        '{"grant_type":"x"}',
        415,
        'unsupported_media_type',
      ],
      ['POST', '/auth/logout', { 'content-type': 'application/json; charset=ascii' }, '{}', 415, 'unsupported_media_type'],
      ['GET', '/assets/pages.css', { range: 'bytes=99999999-' }, undefined, 416, 'range_not_satisfiable'],
      ['GET', '/assets/pages.css', { 'if-match': '"nope"' }, undefined, 412, 'precondition_failed'],
    ];
    for (const [method, path, headers, body, status, error] of refused) {
      const res = await fetch(`${service.url}${path}`, { method, headers, body });
      const request = `${method} ${path} ${JSON.stringify(headers)}`;
      expect({ request, status: res.status, body: await res.json() }).toEqual({
        request,
        status,
        body: { error, error_description: expect.any(String) },
      });
      // RFC 9110 §15.5.17: a 416 says how long the file is.
      if (status === 416) expect(res.headers.get('content-range')).toMatch(/^bytes \*\/\d+$/);
    }
    // The same file with a range and a precondition it meets is served as usual.
    const whole = await fetch(`${service.url}/assets/pages.css`);
    const part = await fetch(`${service.url}/assets/pages.css`, {
      headers: { range: 'bytes=0-9', 'if-match': whole.headers.get('etag')! },
    });
    expect([whole.status, part.status, (await part.text()).length]).toEqual([200, 206, 10]);
  });

  it('refuses oversized headers (431)', async () => {
    const huge = await fetch(`${service.url}/auth/providers`, { headers: { 'x-big': 'x'.repeat(20_000) } });
    expect(huge.status).toBe(431);
  });

  it('closes connections that go quiet (slow loris)', async () => {
    const quiet = await startService({ HTTP_IDLE_TIMEOUT_MS: '300' });
    const socket = connect(Number(new URL(quiet.url).port), '127.0.0.1');
    try {
      await new Promise((r) => socket.once('connect', r));
      socket.write('GET /health HTTP/1.1\r\nHost: x\r\n');
      let timer: NodeJS.Timeout | undefined;
      const closed = await Promise.race([
        new Promise((r) => socket.once('close', () => r('closed'))),
        new Promise((r) => (timer = setTimeout(() => r('open'), 5000))),
      ]).finally(() => clearTimeout(timer));
      expect(closed).toBe('closed');
    } finally {
      // Even when the server failed to close it: an open socket or timer would keep Jest from exiting.
      socket.destroy();
      await quiet.close();
    }
  });

  it('reports liveness and readiness', async () => {
    expect((await fetch(`${service.url}/health`)).status).toBe(200);
    const ready = await fetch(`${service.url}/health/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ status: 'ok', info: { database: { status: 'up' } } });
  });
});

describe('cookies when PUBLIC_URL is https (checklist S3, L2)', () => {
  let service: RunningService;

  beforeAll(async () => {
    service = await startService(
      { PUBLIC_URL: 'https://login.example.test', DEMO_IDP: 'true' },
      { publicUrl: 'https://login.example.test' },
    );
  });

  afterAll(async () => {
    await service?.close();
  });

  it('S3: uses the __Host- prefix with Secure, HttpOnly, SameSite=Lax and Path=/', async () => {
    const res = await fetch(`${service.url}/auth/demo/login`, { redirect: 'manual' });
    expect(res.status).toBe(302);
    const cookie = res.headers.getSetCookie().find((c) => c.startsWith('__Host-login_'))!;
    expect(cookie).toBeDefined();
    for (const attribute of ['; Secure', '; HttpOnly', '; SameSite=Lax', '; Path=/']) expect(cookie).toContain(attribute);
    expect(cookie).not.toMatch(/; Domain=/i);
    expect(new URL(res.headers.get('location')!).searchParams.get('redirect_uri')).toBe('https://login.example.test/auth/demo/callback');
    expect(res.headers.get('strict-transport-security')).toMatch(/max-age=/);
  });

  it("S3, L2: the pages' session and PKCE cookies are __Host-, Secure, HttpOnly, SameSite=Lax, Path=/", async () => {
    const start = await fetch(`${service.url}/session/login/demo`, { redirect: 'manual' });
    // L2: __Host- too, so a sibling domain cannot plant a verifier of its own (login CSRF).
    const pkce = start.headers.getSetCookie().find((c) => c.startsWith('__Host-sls_page_pkce='))!;
    for (const attribute of ['; Secure', '; HttpOnly', '; SameSite=Lax', '; Path=/']) expect(pkce).toContain(attribute);
    expect(pkce).not.toMatch(/; Domain=/i);
    // The session cookie as the service writes it, through a real Express response.
    const app = express();
    app.get('/', (_req, res) => {
      service.app.get(PageSessionService).issue(res, { sid: randomUUID(), sub: randomUUID(), roles: ['user'] });
      res.end();
    });
    const server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    try {
      const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
      const session = res.headers.getSetCookie().find((c) => c.startsWith('__Host-sls_session='))!;
      for (const attribute of ['; Secure', '; HttpOnly', '; SameSite=Lax', '; Path=/']) expect(session).toContain(attribute);
      expect(session).not.toMatch(/; Domain=/i);
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });

  it('L2: a __Host- cookie of ours whose value cookie-parser made JSON (j:{}, j:[], …) reads as absent, never a 5xx', async () => {
    await expectForeignCookiesIgnored(service, '__Host-');
    expect(service.serverErrors).toEqual([]);
  });
});

describe('hostile inputs (issue 15)', () => {
  let service: RunningService;

  beforeAll(async () => {
    service = await startService({ DEMO_IDP: 'true' });
  });

  afterAll(async () => {
    await service?.close();
  });

  afterEach(() => {
    expect(service.serverErrors).toEqual([]);
  });

  it('L2: a cookie of ours whose value cookie-parser made JSON (j:{}, j:[], j:"x", j:null) or garbage reads as absent, never a 5xx', async () => {
    await expectForeignCookiesIgnored(service, '');
  });

  /** A user with a session, straight in the database, and an access token from its refresh token. */
  async function signedIn(roles = ['user']) {
    const { user, refreshToken } = await insertSession(service.app, { roles });
    const res = await send('POST', '/auth/token', { grant_type: 'refresh_token', refresh_token: refreshToken });
    return { user, headers: { authorization: `Bearer ${(res.body as { access_token: string }).access_token}` } };
  }

  async function send(method: string, path: string, body: unknown, headers: Record<string, string> = {}) {
    const form = body instanceof URLSearchParams;
    const res = await fetch(`${service.url}${path}`, {
      method,
      headers: { 'content-type': form ? 'application/x-www-form-urlencoded' : 'application/json', ...headers },
      body: typeof body === 'string' || form ? body : JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  }

  const deepObject = (levels: number) => `${'{"a":'.repeat(levels)}1${'}'.repeat(levels)}`;
  const deepArray = (levels: number) => `${'['.repeat(levels)}${']'.repeat(levels)}`;

  it('refuses JSON bodies nested deeper than any request needs with 400 invalid_request, before validation (class-transformer overflows its stack at ~2,600 levels)', async () => {
    const admin = await signedIn(['user', 'admin']);
    // All within the 16 kB body limit: 2,700 objects or 8,000 arrays deep.
    const bodies = [deepObject(2_700), `{"roles":${deepArray(8_000)}}`, deepArray(8_000), `{"x":${deepObject(40)}}`];
    const routes = [
      ['PATCH', `/admin/users/${admin.user.id}`],
      ['POST', '/admin/clients'],
      ['POST', '/me/identities/demo/link'],
      ['POST', '/auth/token'],
      ['POST', '/auth/logout'],
    ];
    for (const [method, path] of routes) {
      for (const body of bodies) {
        const request = `${method} ${path} ${body.slice(0, 12)}… (${body.length} bytes)`;
        expect({ request, ...(await send(method, path, body, admin.headers)) }).toEqual({
          request,
          status: 400,
          body: { error: 'invalid_request', error_description: expect.stringContaining('nested') },
        });
      }
    }
    // The urlencoded parser is not in extended mode: brackets stay part of a flat key, however many.
    const brackets = new URLSearchParams({ [`grant_type${'[a]'.repeat(1_500)}`]: 'x' });
    expect((await send('POST', '/auth/token', brackets)).status).toBe(400);
    // A body as deep as real ones passes on to validation.
    expect((await send('PATCH', `/admin/users/${admin.user.id}`, { roles: ['user', 'admin'] }, admin.headers)).status).toBe(200);
  });

  it('refuses __proto__, constructor and prototype keys anywhere in a JSON or form body with 400 invalid_request, before any use', async () => {
    const admin = await signedIn(['user', 'admin']);
    const { refreshToken } = await insertSession(service.app);
    const grant = `"grant_type":"refresh_token","refresh_token":"${refreshToken}"`;
    const refused: [string, string, string | URLSearchParams][] = [
      ['__proto__', '/auth/token', `{${grant},"__proto__":{"admin":true}}`],
      ['constructor', '/auth/token', `{${grant},"constructor":{"prototype":{"admin":true}}}`],
      ['prototype', '/auth/token', `{${grant},"x":[{"prototype":1}]}`],
      ['__proto__', '/auth/token', new URLSearchParams(`grant_type=refresh_token&refresh_token=${refreshToken}&__proto__=x`)],
      ['constructor', '/auth/token', new URLSearchParams(`grant_type=refresh_token&refresh_token=${refreshToken}&constructor=x`)],
      ['__proto__', `/admin/users/${admin.user.id}`, '{"disabled":false,"__proto__":{"disabled":true}}'],
      ['constructor', `/admin/users/${admin.user.id}`, '{"disabled":false,"constructor":{}}'],
    ];
    for (const [key, path, body] of refused) {
      const method = path === '/auth/token' ? 'POST' : 'PATCH';
      const request = `${method} ${path} ${String(body)}`;
      expect({ request, ...(await send(method, path, body, admin.headers)) }).toEqual({
        request,
        status: 400,
        body: { error: 'invalid_request', error_description: expect.stringContaining(key) },
      });
    }
    // Refused before the endpoint ran: the refresh token was never spent.
    expect((await send('POST', '/auth/token', { grant_type: 'refresh_token', refresh_token: refreshToken })).status).toBe(200);
  });
});
