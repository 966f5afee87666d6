import { sendRaw, type RawAnswer } from '../support/raw-http.js';
import { TestBrowser } from '../support/browser.js';
import { getJson, signInAndGetTokens } from '../support/sign-in.js';
import { startService } from '../support/service.js';
import { startWorld, type World } from '../support/world.js';

/**
 * The service attacked on Nest's Fastify adapter (the default since docs/fastify-trial.md step 3), with hostile and
 * unusual requests at the trust boundary: HTTP parsing, bodies, CORS, headers, the OpenID Provider under /oidc. Each
 * test states what the service answered on Express, where every test here passed first; a test that fails on Fastify
 * is a difference that matters for security or correctness. It runs on both (`npm test`, `npm run test:express`):
 *
 *   node --experimental-vm-modules node_modules/jest/bin/jest.js --runInBand test/e2e/fastify-attacks.e2e.ts
 *   HTTP_ADAPTER=express node --experimental-vm-modules node_modules/jest/bin/jest.js --runInBand test/e2e/fastify-attacks.e2e.ts
 */
const APP_ORIGIN = 'http://app.example';
const EVIL_ORIGIN = 'http://evil.example';

let world: World;
let url: string;

beforeAll(async () => {
  world = await startWorld({ OPENID_PROVIDER: 'true', ALLOWED_RETURN_URLS: `${APP_ORIGIN}/cb` });
  url = world.service.url;
});

afterAll(async () => {
  await world?.close();
});

afterEach(() => {
  expect(world.service.serverErrors).toEqual([]);
});

/** One raw request on a fresh connection to the service (sendRaw). */
const raw = (request: string, waitMs = 2000) => sendRaw(url, request, waitMs);

/** An HTTP/1.1 request with Connection: close and, for a body, its Content-Length. */
function request(method: string, path: string, headers: Record<string, string> = {}, body?: string): string {
  const all: Record<string, string> = { Host: 'HOST', Connection: 'close', ...headers };
  if (body !== undefined && all['Content-Length'] === undefined && all['Transfer-Encoding'] === undefined) {
    all['Content-Length'] = String(Buffer.byteLength(body, 'latin1'));
  }
  const lines = Object.entries(all).map(([k, v]) => `${k}: ${v}\r\n`);
  return `${method} ${path} HTTP/1.1\r\n${lines.join('')}\r\n${body ?? ''}`;
}

const FORM = { 'Content-Type': 'application/x-www-form-urlencoded' };
const JSON_TYPE = { 'Content-Type': 'application/json' };

/** helmet's headers, the request id and no-store: what every error answer of ours carries (SECURITY.md F8). */
function expectOurErrorAnswer(answer: RawAnswer): void {
  expect(answer.headers).toMatchObject({
    'content-security-policy': expect.stringContaining("default-src 'self'"),
    'x-frame-options': 'SAMEORIGIN',
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    'cross-origin-opener-policy': 'same-origin',
    'x-request-id': expect.stringMatching(/^[0-9a-f-]{36}$/),
  });
  const body = JSON.parse(answer.body) as Record<string, unknown>;
  // The service's error shape only: { error, error_description }, never a framework's (statusCode, code, message).
  expect(Object.keys(body).sort()).toEqual(['error', 'error_description']);
}

describe('URLs the router cannot read are answered by the service, with its headers (SECURITY.md F8)', () => {
  // Express: 404 not_found through the filter, with helmet's headers and X-Request-Id. Fastify: its router refuses the
  // URL (FST_ERR_BAD_URL) and Fastify answers itself, before any hook: no helmet header, no request id, no log line
  // or metric, its own JSON quoting the path back.
  it.each([
    ['/auth/%ZZ', 'a malformed percent-escape'],
    ['/me/%ZZ', 'a malformed percent-escape under an authenticated route'],
    ['/oidc/%ZZ', 'a malformed percent-escape under the OpenID Provider'],
    ['/assets/%E0%A4%A', 'a truncated UTF-8 escape under the static files'],
  ])('GET %s (%s): 4xx with helmet’s headers, X-Request-Id and { error, error_description }', async (path) => {
    const answer = await raw(request('GET', path));
    expect([400, 404]).toContain(answer.status);
    expectOurErrorAnswer(answer);
    expect(answer.body).not.toContain('FST_');
  });

  // Accepted on Fastify, so Express's only: its router decodes before matching, RFC 3986 §6.2.2.2 calls the two
  // spellings equivalent, and an upstream rule keyed on the path must normalize anyway, as both adapters already route
  // /ADMIN/users as /admin/users (docs/fastify-trial.md, "Still different on Fastify").
  (process.env.HTTP_ADAPTER === 'express' ? it : it.skip).each(['/%61dmin/users', '/auth/%74oken', '/me/%73essions'])(
    'GET/POST %s (an unreserved character percent-encoded) is not a route, as on Express: a rule keyed on the path upstream sees another path',
    async (path) => {
      // Express matches routes on the path as sent: 404. Fastify's router decodes first and serves /admin/users,
      // /auth/token, /me/sessions: a load balancer or WAF rule on "/admin" or "/auth/token" (an allowlist, a stricter
      // limit) is passed by respelling one letter, and the log line and metrics name a path no rule saw.
      const answer = await raw(request(path === '/auth/%74oken' ? 'POST' : 'GET', path, FORM, 'grant_type=refresh_token&refresh_token=x'));
      expect(answer.status).toBe(404);
    },
  );

  it('a route parameter longer than 100 characters is not a 414 of Fastify’s own (the guard answers, as on Express)', async () => {
    // Fastify's router refuses a parameter over maxParamLength (100) with FST_ERR_MAX_PARAM_LENGTH, its own 414 JSON
    // without helmet's headers; on Express the route's guard answers 401 (no token).
    const answer = await raw(request('GET', `/admin/users/${'a'.repeat(150)}`));
    expect(answer.status).toBe(401);
    expectOurErrorAnswer(answer);
  });
});

describe('CORS: only the allowed origins, and they can read every answer', () => {
  it('a preflight from a foreign origin to the OpenID Provider’s token endpoint is not allowed', async () => {
    // Express: its cors middleware answers every preflight before the OpenID Provider's mount: 204 without
    // Access-Control-Allow-Origin for a foreign origin (the browser refuses the request). Fastify: CORS runs in
    // preHandler, after middie, where oidc-provider has already answered the preflight itself, allowing any origin
    // with the Authorization header: a page on any site may send client credentials to /oidc/token and read the answer.
    const answer = await raw(
      request('OPTIONS', '/oidc/token', {
        Origin: EVIL_ORIGIN,
        'Access-Control-Request-Method': 'POST',
        'Access-Control-Request-Headers': 'authorization,content-type',
      }),
    );
    expect(answer.status).toBe(204);
    expect(answer.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('a preflight from the allowed origin to an endpoint oidc-provider serves is answered, not a 404', async () => {
    // Express: 204 with the allowed origin (our cors answers every preflight). Fastify: oidc-provider's 404 text.
    const answer = await raw(request('OPTIONS', '/oidc/session/end', { Origin: APP_ORIGIN, 'Access-Control-Request-Method': 'POST' }));
    expect(answer.status).toBe(204);
    expect(answer.headers['access-control-allow-origin']).toBe(APP_ORIGIN);
  });

  it.each<[string, Record<string, string>, string]>([
    ['malformed JSON', JSON_TYPE, '{x'],
    ['a body over 16 kB', JSON_TYPE, `{"grant_type":"${'x'.repeat(20_000)}"}`],
    ['a charset the parser refuses', { 'Content-Type': 'application/x-www-form-urlencoded; charset=latin1' }, 'grant_type=refresh_token'],
    ['a __proto__ key', JSON_TYPE, '{"grant_type":"refresh_token","__proto__":{"admin":true}}'],
    ['a body nested 40 levels deep', JSON_TYPE, `${'{"a":'.repeat(40)}1${'}'.repeat(40)}`],
  ])(
    'the app at the allowed origin can read the token endpoint’s refusal of %s (Access-Control-Allow-Origin, Vary)',
    async (_name, headers, body) => {
      // Express: cors runs before the body parsers, so every answer, a refused body's too, carries the allowed origin.
      // Fastify: cors in preHandler never runs for a request refused in onRequest, by a parser or in preValidation: the
      // browser hides the error from the app (a network error instead of invalid_request / payload_too_large).
      const answer = await raw(request('POST', '/auth/token', { ...headers, Origin: APP_ORIGIN }, body));
      expect(answer.status).toBeGreaterThanOrEqual(400);
      expect(answer.status).toBeLessThan(500);
      expect(answer.headers['access-control-allow-origin']).toBe(APP_ORIGIN);
      expect(answer.headers.vary).toMatch(/origin/i);
    },
  );
});

describe('the OpenID Provider’s bodies go through the same checks as every route', () => {
  // Express: our body parsers and refuseHostileBodies run before the modules' middleware, the OpenID Provider's mount
  // among them. Fastify: the mount runs in middie (onRequest), before Fastify's parsers, bodyRefusal and the
  // preValidation hook, so none of them sees a request oidc-provider answers.
  it('POST /oidc/token with a __proto__ key in the form: 400 invalid_request naming the key', async () => {
    const answer = await raw(request('POST', '/oidc/token', FORM, 'grant_type=refresh_token&refresh_token=x&__proto__=1'));
    expect(answer.status).toBe(400);
    expect(JSON.parse(answer.body)).toEqual({
      error: 'invalid_request',
      error_description: 'the request body may not contain the key __proto__',
    });
  });

  it('POST /oidc/auth (the POSTed authorization request) with a __proto__ key: refused, not redirected to a GET carrying it', async () => {
    const answer = await raw(request('POST', '/oidc/auth', FORM, 'client_id=x&response_type=code&scope=openid&__proto__=1'));
    expect(answer.status).toBe(400);
    expect(answer.headers.location).toBeUndefined();
    expect(answer.body).toContain('__proto__');
  });

  it('POST /oidc/token with a charset body-parser refuses: 415', async () => {
    const answer = await raw(
      request(
        'POST',
        '/oidc/token',
        { 'Content-Type': 'application/x-www-form-urlencoded; charset=latin1' },
        'grant_type=refresh_token&refresh_token=x',
      ),
    );
    expect(answer.status).toBe(415);
    expect(JSON.parse(answer.body)).toMatchObject({ error: 'unsupported_media_type' });
  });

  it('POST /oidc/token with a body over 16 kB: 413, as every route', async () => {
    const answer = await raw(request('POST', '/oidc/token', FORM, `grant_type=refresh_token&refresh_token=${'x'.repeat(20_000)}`));
    expect(answer.status).toBe(413);
    expect(JSON.parse(answer.body)).toMatchObject({ error: 'payload_too_large' });
  });
});

describe('body parsing as on Express', () => {
  it.each<[string, Record<string, string>]>([
    ['text/plain', { 'Content-Type': 'text/plain' }],
    ['unlabelled (no Content-Type)', {}],
    ['multipart/form-data', { 'Content-Type': 'multipart/form-data; boundary=b' }],
  ])('POST /auth/token with a body that is %s: 400 invalid_request (RFC 6749 §5.2 codes only), not 415', async (_name, headers) => {
    // Express: no parser takes the body, the endpoint answers "grant_type is required" (SECURITY.md R4 lists text/plain
    // among the token endpoint's refusals). Fastify: 415 unsupported_media_type, which is no OAuth error code.
    const answer = await raw(request('POST', '/auth/token', headers, 'grant_type=refresh_token&refresh_token=x'));
    expect(answer.status).toBe(400);
    expect(JSON.parse(answer.body)).toEqual({ error: 'invalid_request', error_description: 'grant_type is required' });
  });

  it('a form with more than 1,000 parameters is refused: 413 too many parameters (SECURITY.md R4’s refusals)', async () => {
    // body-parser's parameterLimit (1,000) on Express; fast-querystring on Fastify has none and reads them all.
    const params = ['grant_type=refresh_token', 'refresh_token=x', ...Array.from({ length: 1_100 }, (_, i) => `p${i}=1`)];
    const answer = await raw(request('POST', '/auth/token', FORM, params.join('&')));
    expect(answer.status).toBe(413);
    expect(JSON.parse(answer.body)).toEqual({ error: 'payload_too_large', error_description: 'too many parameters' });
  });

  it('a form labelled charset=ISO-8859-1 (which body-parser reads) reaches the token endpoint, not a 415', async () => {
    // body-parser's urlencoded parser takes utf-8 and iso-8859-1; bodyRefusal on Fastify takes utf-8 only.
    const answer = await raw(
      request(
        'POST',
        '/auth/token',
        { 'Content-Type': 'application/x-www-form-urlencoded; charset=ISO-8859-1' },
        'grant_type=refresh_token&refresh_token=x',
      ),
    );
    expect(answer.status).toBe(400);
    expect(JSON.parse(answer.body)).toMatchObject({ error: 'invalid_grant' });
  });

  it('a form starting with a UTF-8 byte order mark is read as body-parser reads it (the mark is not part of the first name)', async () => {
    // body-parser decodes the body with iconv-lite, which drops a leading BOM: grant_type is read, the token refused.
    // fast-querystring on Fastify reads the first name as "\uFEFFgrant_type": "grant_type is required".
    const answer = await raw(request('POST', '/auth/token', FORM, '\u00ef\u00bb\u00bfgrant_type=refresh_token&refresh_token=x'));
    expect(answer.status).toBe(400);
    expect(JSON.parse(answer.body)).toMatchObject({ error: 'invalid_grant' });
  });

  it('a JSON body in UTF-16LE (charset=utf-16le, which bodyRefusal lets through as a UTF) is decoded, not refused as malformed', async () => {
    // body-parser decodes the charset it accepts (RFC 8259 §8.1 allows the UTFs); Fastify's JSON parser reads the bytes
    // as UTF-8 whatever the label says, and answers 400 "Body is not valid JSON".
    const json = Buffer.from('\uFEFF{"grant_type":"refresh_token","refresh_token":"x"}', 'utf16le').toString('latin1');
    const answer = await raw(request('POST', '/auth/token', { 'Content-Type': 'application/json; charset=utf-16le' }, json));
    expect(answer.status).toBe(400);
    expect(JSON.parse(answer.body)).toMatchObject({ error: 'invalid_grant' });
  });

  it('S1: logout with the bearer token and an empty body labelled application/json ends the session', async () => {
    // A client that always sends Content-Type: application/json. Express: no body, nothing to parse, the bearer
    // token logs out (204). Fastify: FST_ERR_CTP_EMPTY_JSON_BODY, 400, and the session and its tokens stay alive.
    const { tokens } = await signInAndGetTokens(new TestBrowser(), url, 'acme', { login: 'empty-json-logout' });
    const res = await fetch(`${url}/auth/logout`, {
      method: 'POST',
      headers: { authorization: `Bearer ${tokens.access_token}`, 'content-type': 'application/json' },
      body: '',
    });
    expect(res.status).toBe(204);
    expect((await getJson(`${url}/me/claims`, tokens.access_token)).status).toBe(401);
  });

  it('S1: sign out everywhere (DELETE /me/sessions) with an empty body labelled application/json', async () => {
    const { tokens } = await signInAndGetTokens(new TestBrowser(), url, 'acme', { login: 'empty-json-everywhere' });
    const res = await fetch(`${url}/me/sessions`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${tokens.access_token}`, 'content-type': 'application/json' },
      body: '',
    });
    expect(res.status).toBeLessThan(300);
    expect((await getJson(`${url}/me/claims`, tokens.access_token)).status).toBe(401);
  });
});

describe('TRUST_PROXY: the client behind the load balancer is the one X-Forwarded-For names (README: the same values on Fastify)', () => {
  // Two clients behind one proxy (the test connects from 127.0.0.1, the proxy's hop), each named by X-Forwarded-For.
  // The token limit is per client IP: the second client keeps its own allowance when the first has spent its own.
  const token = (serviceUrl: string, client: string) =>
    fetch(`${serviceUrl}/auth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-for': client },
      body: 'grant_type=refresh_token&refresh_token=x',
    }).then((r) => r.status);

  it.each([
    ['1', 'a hop count (README’s example; Express trusts the one proxy in front)'],
    ['loopback', 'an address name'],
  ])('TRUST_PROXY=%s (%s): one client spending its token allowance does not rate-limit another', async (trust) => {
    // Fastify 5 fails closed on a hop count (lib/request.js getTrustProxyFn: a number trusts no hop), so with
    // TRUST_PROXY=1 every client has the proxy's address: one bucket for everybody (one client locks all out of sign-in
    // and refresh), and sessions and the audit trail record the load balancer, not the client.
    const service = await startService({ RATE_LIMITS: 'on', RATE_LIMIT_TOKEN: '2', TRUST_PROXY: trust });
    try {
      const first = [
        await token(service.url, '203.0.113.7'),
        await token(service.url, '203.0.113.7'),
        await token(service.url, '203.0.113.7'),
      ];
      expect(first).toEqual([400, 400, 429]);
      expect(await token(service.url, '198.51.100.9')).toBe(400);
      expect(service.serverErrors).toEqual([]);
    } finally {
      await service.close();
    }
  });
});

describe('held on both adapters (cover)', () => {
  it.each([
    '/assets/%2e%2e/package.json',
    '/assets/..%2fpackage.json',
    '/assets/%2e%2e%2f%2e%2e%2fetc%2fpasswd',
    '/assets/..%5cpackage.json',
    '/assets/pages.css%00',
    '/assets/',
    '/assets/.gitkeep',
  ])('static files: GET %s serves nothing outside public/ (4xx, our error shape)', async (path) => {
    const answer = await raw(request('GET', path));
    expect(answer.status).toBeGreaterThanOrEqual(400);
    expect(answer.status).toBeLessThan(500);
    expectOurErrorAnswer(answer);
    expect(answer.body).not.toContain('"name"');
  });

  it.each<[string, string]>([
    ['a __proto__ key (JSON)', '{"grant_type":"refresh_token","refresh_token":"x","__proto__":{"a":1}}'],
    ['a constructor key (JSON)', '{"grant_type":"refresh_token","refresh_token":"x","constructor":{"prototype":{"a":1}}}'],
  ])('POST /auth/token with %s: 400 naming the key', async (_name, body) => {
    const answer = await raw(request('POST', '/auth/token', JSON_TYPE, body));
    expect(answer.status).toBe(400);
    expect(JSON.parse(answer.body)).toMatchObject({
      error: 'invalid_request',
      error_description: expect.stringMatching(/__proto__|constructor/),
    });
  });

  it.each<[string, string]>([
    ['__proto__', 'grant_type=refresh_token&refresh_token=x&__proto__=1'],
    ['an escaped __proto__', 'grant_type=refresh_token&refresh_token=x&%5F%5Fproto%5F%5F=1'],
    ['constructor', 'grant_type=refresh_token&refresh_token=x&constructor=1'],
  ])('POST /auth/token, a form with %s: 400 naming the key', async (_name, body) => {
    const answer = await raw(request('POST', '/auth/token', FORM, body));
    expect(answer.status).toBe(400);
    expect(JSON.parse(answer.body)).toMatchObject({ error: 'invalid_request' });
  });

  it('a repeated form parameter is refused as a list', async () => {
    const answer = await raw(request('POST', '/auth/token', FORM, 'grant_type=refresh_token&refresh_token=x&refresh_token=y'));
    expect(JSON.parse(answer.body)).toEqual({ error: 'invalid_request', error_description: 'refresh_token must be a single string' });
  });

  it('the OpenID Provider pins its URLs to PUBLIC_URL whatever Host and X-Forwarded-* say (SECURITY.md F4)', async () => {
    const answer = await raw(
      request('GET', '/oidc/.well-known/openid-configuration', { 'X-Forwarded-Host': 'evil.example', 'X-Forwarded-Proto': 'https' }),
    );
    expect(answer.status).toBe(200);
    expect(answer.body).not.toContain('evil.example');
    expect(JSON.parse(answer.body)).toMatchObject({ token_endpoint: `${world.service.publicUrl}/oidc/token` });
  });

  it.each([
    '/oidc/token/revocation',
    '/OIDC/token/revocation',
    '/oidc/token/revocation/',
    '/oidc/Token/Revocation',
    '/OIDC/TOKEN/INTROSPECTION',
    '/oidc/token/introspection/',
  ])('POST %s reaches our revocation or introspection (O9, O10: client authentication first), never oidc-provider’s', async (path) => {
    const answer = await raw(request('POST', path, FORM, 'token=x&client_id=nobody'));
    expect(answer.status).toBe(401);
    expect(answer.headers['www-authenticate']).toBe('Basic realm="token", charset="UTF-8"');
    expect(JSON.parse(answer.body)).toMatchObject({ error: 'invalid_client' });
  });

  it('a foreign origin’s preflight to our own API gets no Access-Control-Allow-Origin', async () => {
    const answer = await raw(request('OPTIONS', '/auth/token', { Origin: EVIL_ORIGIN, 'Access-Control-Request-Method': 'POST' }));
    expect(answer.status).toBe(204);
    expect(answer.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('cookies holding j: (JSON) or prototype names are ignored, never a 5xx (SECURITY.md L2)', async () => {
    for (const cookie of ['sls_session=j:{"a":1}', '__proto__=x; constructor=y', 'a=%ZZ; =x; ;;']) {
      const answer = await raw(request('GET', '/account', { Cookie: cookie }));
      expect(answer.status).toBe(303);
      expect(answer.headers.location).toBe('/');
    }
  });
});
