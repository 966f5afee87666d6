import { TestBrowser } from '../support/browser.js';
import { sendRaw } from '../support/raw-http.js';
import { callApi, completeAtProvider, signInAndGetTokens } from '../support/sign-in.js';
import { startService } from '../support/service.js';
import { startOpenIdWorld, type OpenIdWorld } from '../support/relying-party.js';

/**
 * The service attacked again on Fastify, the default adapter since docs/fastify-trial.md step 3, where the earlier
 * attack suite (fastify-attacks.e2e.ts: HTTP parsing, bodies, CORS, headers, /oidc) did not go: cookies across the
 * sign-in's redirects, hostile returnTo values, replayed and foreign callbacks, the pages' session and CSRF, the admin
 * API's query strings (Fastify read them with fast-querystring, Express 5 with node:querystring: now both with the
 * latter), duplicate headers,
 * OPTIONS and HEAD, Fastify's own refusals (content-type, parameter length) and error answers. Every test passed on
 * Express first and states what Express answers; one that fails on Fastify is a difference that matters.
 *
 *   node --experimental-vm-modules node_modules/jest/bin/jest.js --runInBand test/e2e/fastify-default-attacks.e2e.ts
 *   HTTP_ADAPTER=express node --experimental-vm-modules node_modules/jest/bin/jest.js --runInBand test/e2e/fastify-default-attacks.e2e.ts
 */
const APP_ORIGIN = 'http://app.example';
const APP_CB = `${APP_ORIGIN}/cb`;

let op: OpenIdWorld;
let url: string;
let publicUrl: string;

beforeAll(async () => {
  op = await startOpenIdWorld({ ALLOWED_RETURN_URLS: `${APP_CB}` });
  url = op.url;
  publicUrl = op.world.service.publicUrl;
});

afterAll(async () => {
  await op?.world.close();
});

afterEach(() => {
  expect(op.world.service.serverErrors).toEqual([]);
});

/** One raw request on a fresh connection (sendRaw), to this suite's service unless `base` says otherwise. */
const raw = (request: string, base = url, waitMs = 2000) => sendRaw(base, request, waitMs);

/** An HTTP/1.1 request with Connection: close; headers as [name, value] pairs, so a name can come twice. */
function request(method: string, path: string, headers: [string, string][] = [], body?: string): string {
  const all: [string, string][] = [['Host', 'HOST'], ['Connection', 'close'], ...headers];
  if (body !== undefined && !all.some(([k]) => k.toLowerCase() === 'content-length')) {
    all.push(['Content-Length', String(Buffer.byteLength(body, 'latin1'))]);
  }
  return `${method} ${path} HTTP/1.1\r\n${all.map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n${body ?? ''}`;
}

/** The service's error shape only: { error, error_description }, never a framework's (statusCode, code, message). */
function expectOurErrorShape(body: string): void {
  const parsed = JSON.parse(body) as Record<string, unknown>;
  expect(Object.keys(parsed).sort()).toEqual(['error', 'error_description']);
  expect(body).not.toMatch(/FST_|statusCode|stack|at .*\.js:\d+/);
}

const refreshStatus = async (refreshToken: string) =>
  (
    await fetch(`${url}/auth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ grant_type: 'refresh_token', refresh_token: refreshToken }),
    })
  ).status;

let people = 0;
const signedIn = () => signInAndGetTokens(new TestBrowser(), url, 'corp', { login: `fda-${++people}` });

/** A page session (the sealed sls_session cookie) in a browser of its own, and the account page's CSRF token. */
async function pageSession(): Promise<{ browser: TestBrowser; csrf: string }> {
  const browser = new TestBrowser();
  const { result } = await completeAtProvider(browser, `${url}/session/login/corp`, (u) => u.includes('/session/callback'), {
    login: `fda-page-${++people}`,
  });
  expect((await browser.request(result.href)).headers.get('location')).toBe('/account');
  const page = await browser.request(`${url}/account`);
  expect(page.status).toBe(200);
  return { browser, csrf: /<meta name="csrf-token" content="([^"]+)">/.exec(page.body)![1] };
}

const cookieHeaderOf = (browser: TestBrowser) => [...browser.cookies('127.0.0.1')].map(([name, c]) => `${name}=${c.value}`).join('; ');

describe('Fastify’s own content-type parser must not stand between a bodiless request and its route', () => {
  // Express reads no body it has no parser for and runs the route; Fastify's router parses every Content-Type header
  // of a POST/PATCH/DELETE itself and refuses one it cannot read with its own 415, before guards and handlers.
  it.each([
    ['empty', ''],
    ['without a subtype', 'text'],
    ['a list', 'application/json, text/plain'],
  ])('S1: POST /auth/logout with the bearer token, no body and a Content-Type %s ends the session (204)', async (_name, type) => {
    const { tokens } = await signedIn();
    const answer = await raw(
      request(
        'POST',
        '/auth/logout',
        [
          ['Authorization', `Bearer ${tokens.access_token}`],
          ['Content-Type', type],
        ],
        '',
      ),
    );
    expect(answer.status).toBe(204);
    // The session is over: its refresh token is refused.
    expect(await refreshStatus(tokens.refresh_token)).toBe(400);
  });

  it('S1: sign out everywhere (DELETE /me/sessions) with an empty Content-Type header ends every session', async () => {
    const { tokens } = await signedIn();
    const answer = await raw(
      request(
        'DELETE',
        '/me/sessions',
        [
          ['Authorization', `Bearer ${tokens.access_token}`],
          ['Content-Type', ''],
        ],
        '',
      ),
    );
    expect(answer.status).toBe(200);
    expect(await refreshStatus(tokens.refresh_token)).toBe(400);
  });

  it('the page’s sign-out (POST /session/logout, CSRF header) with an empty Content-Type header signs the browser out', async () => {
    const { browser, csrf } = await pageSession();
    const answer = await raw(
      request(
        'POST',
        '/session/logout',
        [
          ['Cookie', cookieHeaderOf(browser)],
          ['X-CSRF-Token', csrf],
          ['Content-Type', ''],
        ],
        '',
      ),
    );
    expect(answer.status).toBe(204);
    expect(answer.setCookies.some((c) => c.startsWith('sls_session=;') && c.includes('Expires=Thu, 01 Jan 1970'))).toBe(true);
  });
});

describe('OPTIONS that is not a CORS preflight', () => {
  // Express's cors answers every OPTIONS (204 and the allowed methods); @fastify/cors's strictPreflight answers one
  // without Origin or Access-Control-Request-Method with 400 "Invalid Preflight Request" as text/plain: not our
  // error shape, and a 4xx to monitors and clients (RFC 9110 §9.3.7) that ask a resource what it allows.
  it.each([
    ['/auth/token', []],
    ['/auth/token', [['Origin', APP_ORIGIN]]],
    ['*', []],
  ] as [string, [string, string][]][])('OPTIONS %s %j is answered as Express does: 204 with the allowed methods', async (path, headers) => {
    const answer = await raw(request('OPTIONS', path, headers));
    expect(answer.status).toBe(204);
    expect(answer.headers['access-control-allow-methods']).toBe('GET, POST, PATCH, DELETE');
  });
});

describe('routes and parameters', () => {
  it('a route parameter over 2,048 characters reaches the route’s guard (401), not Fastify’s router (414)', async () => {
    for (const [method, path] of [
      ['GET', `/admin/users/${'a'.repeat(3000)}`],
      ['DELETE', `/me/sessions/${'a'.repeat(2100)}`],
    ]) {
      const answer = await raw(request(method, path));
      expect([method, answer.status]).toEqual([method, 401]);
      expect(JSON.parse(answer.body)).toMatchObject({ error: 'invalid_token' });
    }
  });

  it('a route parameter over 2,048 characters with an admin token: 400 from ParseUUIDPipe, as every malformed id', async () => {
    const answer = await raw(request('GET', `/admin/users/${'a'.repeat(3000)}`, [['Authorization', `Bearer ${op.adminToken}`]]));
    expect(answer.status).toBe(400);
    expectOurErrorShape(answer.body);
  });
});

describe('the query string, read with node:querystring on both adapters (Express 5’s; Fastify’s own fast-querystring differed)', () => {
  it('a returnTo whose own query carries a stray "%" is honoured as Express reads it, not dropped to the built-in page', async () => {
    // node:querystring decodes what it can of a value with a bad escape; fast-querystring gives the whole value back
    // undecoded ("http%3A%2F%2Fapp.example…"), which then resolves as a relative path of ours and is not allowed.
    const browser = new TestBrowser();
    const start = `${url}/auth/corp/login?returnTo=${encodeURIComponent(`${APP_CB}?discount=`)}100%`;
    const { result } = await completeAtProvider(
      browser,
      start,
      (u) => !u.includes('/callback') && (new URL(u).searchParams.has('code') || new URL(u).searchParams.has('error')),
      {
        login: `fda-pct-${++people}`,
      },
    );
    expect(`${result.origin}${result.pathname}`).toBe(APP_CB);
    expect(result.searchParams.get('code')).toBeTruthy();
    expect(result.searchParams.get('discount')).toBe('100%');
  });

  it.each([
    ['limit twice', 'limit=1&limit=2', 400],
    ['a bracketed key', 'query[a]=b', 400],
    ['__proto__ bracketed', '__proto__[limit]=1', 400],
    ['a NUL in the query', 'query=a%00b', 400],
    ['__proto__ (ignored, as on Express)', '__proto__=x', 200],
    ['limit in exponent form (100)', 'limit=1e2', 200],
  ])('GET /admin/users with %s: %d as on Express, never a 5xx', async (_name, qs, status) => {
    const answer = await callApi(url, 'GET', `/admin/users?${qs}`, op.adminToken);
    expect(answer.status).toBe(status);
    if (status === 400) expect(answer.body).toMatchObject({ error: 'invalid_request' });
    else expect(Array.isArray(answer.body.items)).toBe(true);
  });

  it('PATCH /admin/users/:id reads the body only: roles in the query string (array, bracketed, repeated) change nothing', async () => {
    const { me } = await signedIn();
    const answer = await callApi(
      url,
      'PATCH',
      `/admin/users/${me.id}?roles=admin&roles[]=admin&roles[0]=admin&disabled=true`,
      op.adminToken,
      {
        disabled: false,
      },
    );
    expect(answer.status).toBe(200);
    expect(answer.body.roles).not.toContain('admin');
    expect(answer.body.disabled).toBe(false);
  });

  it('DELETE /admin/users/:id deletes the user of the path, whatever an id in the query or body says', async () => {
    const victim = (await signedIn()).me;
    const target = (await signedIn()).me;
    const answer = await raw(
      request(
        'DELETE',
        `/admin/users/${target.id}?id=${victim.id}&id=${victim.id}`,
        [
          ['Authorization', `Bearer ${op.adminToken}`],
          ['Content-Type', 'application/json'],
        ],
        JSON.stringify({ id: victim.id }),
      ),
    );
    expect(answer.status).toBe(204);
    expect((await callApi(url, 'GET', `/admin/users/${victim.id}`, op.adminToken)).status).toBe(200);
    expect((await callApi(url, 'GET', `/admin/users/${target.id}`, op.adminToken)).status).toBe(404);
  });
});

describe('the sign-in’s cookies and redirects (held on Express)', () => {
  it('F1: the start seals one login-state cookie (HttpOnly, SameSite=Lax, Path=/, ~10 min) and redirects uncached to the provider', async () => {
    const answer = await raw(request('GET', `/auth/corp/login?returnTo=${encodeURIComponent(APP_CB)}`));
    expect(answer.status).toBe(302);
    expect(answer.headers['cache-control']).toBe('no-store');
    expect(answer.setCookies).toHaveLength(1);
    const [cookie] = answer.setCookies;
    expect(cookie).toMatch(/^login_[A-Za-z0-9_-]+=v1\.[^;]+; Max-Age=(599|600); Path=\/; Expires=[^;]+; HttpOnly; SameSite=Lax$/);
    const location = new URL(answer.headers.location);
    expect(location.searchParams.get('state')).toBeTruthy();
    expect(location.searchParams.get('code_challenge_method')).toBe('S256');
    expect(location.searchParams.get('nonce')).toBeTruthy();
  });

  it('HEAD on the sign-in start answers as GET does (302 to the provider, the login cookie), with no body', async () => {
    const answer = await raw(request('HEAD', `/auth/corp/login?returnTo=${encodeURIComponent(APP_CB)}`));
    expect(answer.status).toBe(302);
    expect(answer.headers.location).toMatch(/\/auth\?/);
    expect(answer.setCookies).toHaveLength(1);
    expect(answer.body).toBe('');
  });

  it('the callback answer carries both cookies (the login cookie cleared, the session set) and goes to returnTo with a code', async () => {
    const browser = new TestBrowser();
    const { result } = await completeAtProvider(
      browser,
      `${url}/auth/corp/login?returnTo=${encodeURIComponent(APP_CB)}`,
      (u) => u.startsWith(APP_CB),
      { login: `fda-cb-${++people}` },
    );
    expect(result.searchParams.get('code')).toBeTruthy();
    const callback = browser.history.find((h) => h.url.includes('/auth/corp/callback'))!;
    const set = callback.headers.getSetCookie();
    expect(set.filter((c) => /^login_[^=]+=;/.test(c) && c.includes('Expires=Thu, 01 Jan 1970'))).toHaveLength(1);
    expect(set.filter((c) => c.startsWith('sls_session=v1.') && c.includes('HttpOnly') && c.includes('SameSite=Lax'))).toHaveLength(1);
    expect(callback.headers.get('cache-control')).toBe('no-store');
    expect(callback.headers.get('referrer-policy')).toBe('no-referrer');
  });

  it('F1: the callback replayed in the same browser, or opened in another, is invalid_state and sets no session', async () => {
    const browser = new TestBrowser();
    await completeAtProvider(browser, `${url}/auth/corp/login?returnTo=${encodeURIComponent(APP_CB)}`, (u) => u.startsWith(APP_CB), {
      login: `fda-replay-${++people}`,
    });
    const callback = browser.history.find((h) => h.url.includes('/auth/corp/callback'))!;
    for (const who of [browser, new TestBrowser()]) {
      const again = await who.request(callback.url);
      expect(again.status).toBe(302);
      const to = new URL(again.headers.get('location')!);
      expect(to.searchParams.get('error')).toBe('invalid_state');
      expect(to.searchParams.has('code')).toBe(false);
      expect(again.headers.getSetCookie().some((c) => c.startsWith('sls_session=v1.'))).toBe(false);
    }
  });

  it.each([
    'http://evil.example/cb',
    '//evil.example/cb',
    'http://app.example@evil.example/cb',
    'http://app.example/cb%0d%0aSet-Cookie:%20x=y',
    'http://äpp.example/cb',
    'javascript:alert(1)//http://app.example/cb',
  ])('returnTo %j: the error redirect stays on an allowed origin, and its Location is one clean header', async (returnTo) => {
    const browser = new TestBrowser();
    const start = await browser.request(`${url}/auth/corp/login?${new URLSearchParams({ returnTo })}`);
    expect(start.status).toBe(302);
    const state = new URL(start.headers.get('location')!).searchParams.get('state')!;
    const answer = await raw(
      request('GET', `/auth/corp/callback?${new URLSearchParams({ error: 'access_denied', state })}`, [
        ['Cookie', cookieHeaderOf(browser)],
      ]),
    );
    expect(answer.status).toBe(302);
    const location = new URL(answer.headers.location, publicUrl);
    expect([APP_ORIGIN, publicUrl]).toContain(location.origin);
    expect(answer.headers.location).not.toMatch(/[\r\n\s<>"]/);
    expect(location.searchParams.get('error')).toBeTruthy();
    expect(location.searchParams.has('code')).toBe(false);
    expect(Object.keys(answer.headers)).not.toContain('x');
    expect(answer.setCookies.every((c) => !c.startsWith('x='))).toBe(true);
  });

  it('S3: over https every cookie of the sign-in is __Host- prefixed, Secure, Path=/ and has no Domain', async () => {
    const service = await startService(
      { ALLOWED_RETURN_URLS: 'https://login.example/', ...op.world.env },
      { publicUrl: 'https://login.example' },
    );
    try {
      const answer = await raw(request('GET', '/auth/corp/login?returnTo=%2F'), service.url);
      expect(answer.status).toBe(302);
      expect(answer.setCookies).toHaveLength(1);
      expect(answer.setCookies[0]).toMatch(
        /^__Host-login_[A-Za-z0-9_-]+=[^;]+; Max-Age=\d+; Path=\/; Expires=[^;]+; HttpOnly; Secure; SameSite=Lax$/,
      );
      expect(answer.setCookies[0]).not.toMatch(/Domain=/i);
      expect(service.serverErrors).toEqual([]);
    } finally {
      await service.close();
    }
  });
});

describe('the pages’ session cookie (held on Express)', () => {
  it('sign-out clears the session cookie with its own attributes, and the account page then sends the browser home', async () => {
    const { browser, csrf } = await pageSession();
    const out = await browser.request(`${url}/session/logout`, { method: 'POST', headers: { 'x-csrf-token': csrf } });
    expect(out.status).toBe(204);
    const cleared = out.headers.getSetCookie().filter((c) => c.startsWith('sls_session=;'));
    expect(cleared).toHaveLength(1);
    expect(cleared[0]).toMatch(/Path=\/; Expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly; SameSite=Lax/);
    const account = await browser.request(`${url}/account`);
    expect([account.status, account.headers.get('location')]).toEqual([303, '/']);
  });

  it('a sealed session cookie replayed after sign-out opens nothing, and is cleared again', async () => {
    const { browser, csrf } = await pageSession();
    const stolen = cookieHeaderOf(browser);
    expect((await browser.request(`${url}/session/logout`, { method: 'POST', headers: { 'x-csrf-token': csrf } })).status).toBe(204);
    // Past the sealed cookie's freshness the revocation is read from the database; before it, the revocation list.
    const answer = await raw(request('GET', '/account', [['Cookie', stolen]]));
    expect([answer.status, answer.headers.location]).toEqual([303, '/']);
  });

  it('the session cookie sent in a second Cookie header is read as Node joins them (account page, 200)', async () => {
    const { browser } = await pageSession();
    const answer = await raw(
      request('GET', '/account', [
        ['Cookie', 'theme=dark'],
        ['Cookie', cookieHeaderOf(browser)],
      ]),
    );
    expect(answer.status).toBe(200);
  });

  it('two session cookies of the same name: the first is read (cookie-parser), a forged first one opens nothing', async () => {
    const { browser } = await pageSession();
    const real = browser.cookies('127.0.0.1').get('sls_session')!.value;
    const forgedFirst = await raw(request('GET', '/account', [['Cookie', `sls_session=v1.forged.x.y; sls_session=${real}`]]));
    expect([forgedFirst.status, forgedFirst.headers.location]).toEqual([303, '/']);
    const realFirst = await raw(request('GET', '/account', [['Cookie', `sls_session=${real}; sls_session=v1.forged.x.y`]]));
    expect(realFirst.status).toBe(200);
  });

  it.each([
    ['latin-1 bytes', 'sls_session=v1.\xff\xfe.x.y'],
    ['an escape that decodes to NUL', 'sls_session=v1.%00.x.y'],
    ['8 kB of cookie', `sls_session=${'a'.repeat(8000)}`],
  ])('a session cookie with %s: the home page answers (303 or 200), never a 5xx', async (_name, cookie) => {
    const answer = await raw(request('GET', '/account', [['Cookie', cookie]]));
    expect([answer.status, answer.headers.location]).toEqual([303, '/']);
  });

  it('CSRF: the page’s sign-out wants the token even when the form posts it twice or as JSON, and refuses a foreign Origin', async () => {
    const { browser, csrf } = await pageSession();
    const cookie = cookieHeaderOf(browser);
    const post = (headers: [string, string][], body?: string) =>
      raw(request('POST', '/session/logout', [['Cookie', cookie], ...headers], body ?? '')).then((a) => a.status);
    expect(await post([['Content-Type', 'application/x-www-form-urlencoded']], `csrf=${csrf}&csrf=${csrf}`)).toBe(403);
    expect(await post([['Content-Type', 'application/json']], JSON.stringify({ csrf }))).toBe(403);
    expect(
      await post([
        ['X-CSRF-Token', csrf],
        ['Origin', 'http://evil.example'],
      ]),
    ).toBe(401);
    // Node joins a repeated X-CSRF-Token with ", ": no longer the token.
    expect(
      await post([
        ['X-CSRF-Token', csrf],
        ['X-CSRF-Token', csrf],
      ]),
    ).toBe(403);
    expect(await post([['X-CSRF-Token', csrf]])).toBe(204);
  });
});

describe('duplicate and odd headers (held on Express)', () => {
  it('Authorization twice: the first is the one read (Node drops duplicates), whichever holds the valid token', async () => {
    const { tokens } = await signedIn();
    const bogusFirst = await raw(
      request('GET', '/me', [
        ['Authorization', 'Bearer x.y.z'],
        ['Authorization', `Bearer ${tokens.access_token}`],
      ]),
    );
    expect(bogusFirst.status).toBe(401);
    const validFirst = await raw(
      request('GET', '/me', [
        ['Authorization', `Bearer ${tokens.access_token}`],
        ['Authorization', 'Bearer x.y.z'],
      ]),
    );
    expect(validFirst.status).toBe(200);
  });

  it.each([
    ['GET', '/nowhere'],
    ['GET', '/auth/%zz'],
    ['POST', '/auth/token'],
    ['PATCH', '/admin/users/not-a-uuid'],
  ])('%s %s: an error answer of ours (no-store, helmet’s headers, our shape), never a framework’s', async (method, path) => {
    const answer = await raw(
      request(method, path, [['Content-Type', 'application/json']], method === 'GET' || method === 'HEAD' ? undefined : '{"a":'),
    );
    expect(answer.status).toBeGreaterThanOrEqual(400);
    expect(answer.status).toBeLessThan(500);
    expect(answer.headers['cache-control']).toBe('no-store');
    expect(answer.headers['x-content-type-options']).toBe('nosniff');
    if (method !== 'HEAD') expectOurErrorShape(answer.body);
  });
});

describe('HEAD on every kind of route (held on Express)', () => {
  it.each([
    '/',
    '/account',
    '/.well-known/jwks.json',
    '/oidc/.well-known/openid-configuration',
    '/assets/pages.css',
    '/metrics',
    '/nowhere',
  ])('HEAD %s: the status and Content-Type of GET, and no body', async (path) => {
    const get = await raw(request('GET', path));
    const head = await raw(request('HEAD', path));
    expect([head.status, head.headers['content-type']]).toEqual([get.status, get.headers['content-type']]);
    expect(head.body).toBe('');
    expect(head.headers['x-content-type-options']).toBe('nosniff');
  });
});

describe('the OpenID Provider’s forms (held on Express)', () => {
  it('the interaction page of an unknown or malformed uid is our 400 page; HEAD of it too, with no body', async () => {
    for (const method of ['GET', 'HEAD']) {
      const answer = await raw(request(method, '/interaction/not-an-interaction'));
      expect([method, answer.status]).toEqual([method, 400]);
      expect(answer.headers['cache-control']).toBe('no-store');
      if (method === 'HEAD') expect(answer.body).toBe('');
    }
  });

  it('POST /interaction/:uid/consent without the interaction: our 400 page, for a form, JSON or text body alike', async () => {
    for (const [type, body] of [
      ['application/x-www-form-urlencoded', 'decision=allow&csrf=x'],
      ['application/json', '{"decision":"allow","csrf":"x"}'],
      ['text/plain', 'decision=allow'],
    ]) {
      const answer = await raw(request('POST', '/interaction/abcdefghijklmnopqrstu/consent', [['Content-Type', type]], body));
      expect([type, answer.status]).toEqual([type, 400]);
      expect(answer.headers.location).toBeUndefined();
    }
  });
});
