import { insertSession } from '../support/factories.js';
import { ADAPTERS, serviceOnEachAdapter, type Adapter } from '../support/adapters.js';

/**
 * The two adapters answer alike (docs/fastify-trial.md): Fastify is the default, Express stays selectable
 * (`HTTP_ADAPTER=express`), and clients and tests outside this repository met Express first. The same requests go to
 * one service on each and the answers are compared: status, body and every header but those that differ by nature
 * (the date, the request id, the connection's, and what depends on a fresh token's bytes). The token endpoint is the
 * request a service like this answers most; the refusals are the bodies a hand-made parser would get wrong.
 * Raw-socket framing: adapter-parity-framing.e2e.ts.
 */
const VARYING = new Set(['date', 'x-request-id', 'etag', 'content-length', 'connection', 'keep-alive', 'transfer-encoding']);

type Answer = { status: number; body: unknown; headers: Record<string, string> };

const services = serviceOnEachAdapter();

async function send(
  init: { body?: string | Uint8Array; type?: string; headers?: Record<string, string>; path?: string; method?: string },
  adapter: Adapter,
): Promise<Answer> {
  const headers: Record<string, string> = { ...init.headers };
  if (init.type) headers['content-type'] = init.type;
  const res = await fetch(`${services[adapter].url}${init.path ?? '/auth/token'}`, {
    method: init.method ?? 'POST',
    headers,
    body: typeof init.body === 'string' || init.body === undefined ? init.body : new Uint8Array(init.body),
  });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    /* not JSON: compared as text */
  }
  const kept: Record<string, string> = {};
  res.headers.forEach((value, name) => {
    if (!VARYING.has(name)) kept[name] = value;
  });
  return { status: res.status, body, headers: kept };
}

/** A fresh token's values differ between the two answers; their shape may not. */
const shape = (a: Answer) => ({
  ...a,
  body:
    a.body && typeof a.body === 'object' && 'access_token' in a.body
      ? Object.fromEntries(Object.entries(a.body).map(([k, v]) => [k, k.endsWith('_token') ? typeof v : v]))
      : a.body,
});

const form = (fields: [string, string][]) => new URLSearchParams(fields).toString();
const FORM = 'application/x-www-form-urlencoded';
const JSON_TYPE = 'application/json';

/** Both services at once, the same request to each. */
const both = (init: Parameters<typeof send>[0]) => Promise.all(ADAPTERS.map((a) => send(init, a)));

it('R4: runs each service on the adapter it was asked for', () => {
  expect(services.express.app.getHttpAdapter().getType()).toBe('express');
  expect(services.fastify.app.getHttpAdapter().getType()).toBe('fastify');
});

it('R4: answers a refresh alike on both adapters (form and JSON), and each rotation works', async () => {
  for (const encode of [
    (t: string) => ({
      body: form([
        ['grant_type', 'refresh_token'],
        ['refresh_token', t],
      ]),
      type: FORM,
    }),
    (t: string) => ({ body: JSON.stringify({ grant_type: 'refresh_token', refresh_token: t }), type: JSON_TYPE }),
  ]) {
    const [a, b] = await Promise.all(
      ADAPTERS.map(async (adapter) => send(encode((await insertSession(services[adapter].app)).refreshToken), adapter)),
    );
    expect(a.status).toBe(200);
    expect(shape(a)).toEqual(shape(b));
    expect(a.headers['cache-control']).toBe('no-store');
    for (const [adapter, answer] of [
      ['express', a],
      ['fastify', b],
    ] as const) {
      const again = await send(encode((answer.body as { refresh_token: string }).refresh_token), adapter);
      expect(again.status).toBe(200);
    }
  }
});

it.each([
  [
    'an unknown refresh token',
    {
      body: form([
        ['grant_type', 'refresh_token'],
        ['refresh_token', 'nope'],
      ]),
      type: FORM,
    },
  ],
  ['no grant_type', { body: form([['refresh_token', 'nope']]), type: FORM }],
  [
    'an unsupported grant_type',
    {
      body: form([
        ['grant_type', 'password'],
        ['username', 'a'],
      ]),
      type: FORM,
    },
  ],
  [
    'a repeated form key',
    {
      body: form([
        ['grant_type', 'refresh_token'],
        ['refresh_token', 'a'],
        ['refresh_token', 'b'],
      ]),
      type: FORM,
    },
  ],
  ['an array in JSON', { body: JSON.stringify({ grant_type: 'refresh_token', refresh_token: ['a'] }), type: JSON_TYPE }],
  ['a __proto__ key', { body: '{"grant_type":"refresh_token","__proto__":{"x":1}}', type: JSON_TYPE }],
  ['JSON nested past the limit', { body: `${'{"a":'.repeat(40)}1${'}'.repeat(40)}`, type: JSON_TYPE }],
  ['malformed JSON', { body: '{"grant_type":', type: JSON_TYPE }],
  [
    'a body over 16 kB',
    {
      body: form([
        ['grant_type', 'refresh_token'],
        ['refresh_token', 'x'.repeat(17_000)],
      ]),
      type: FORM,
    },
  ],
  ['a charset the parser refuses', { body: 'grant_type=refresh_token', type: `${FORM}; charset=utf-7` }],
  // Forms of the kinds a hand-written reader would get wrong (tried, and not kept: BENCHMARKS.md), the same both ways.
  ['a form with a __proto__ key', { body: 'grant_type=refresh_token&__proto__=x', type: FORM }],
  ['a form with 1,001 parameters', { body: Array.from({ length: 1001 }, (_, i) => `k${i}=v`).join('&'), type: FORM }],
  ['a form with a byte order mark and escapes', { body: '\uFEFFgrant_type=p%C3%A4ss+word%zz', type: `${FORM}; charset=UTF-8` }],
  [
    'a form whose bytes are not UTF-8',
    { body: Buffer.from([0x67, 0x72, 0x61, 0x6e, 0x74, 0x5f, 0x74, 0x79, 0x70, 0x65, 0x3d, 0xff]), type: FORM },
  ],
  ['a text/plain body', { body: 'grant_type=refresh_token', type: 'text/plain' }],
  ['no body', {}],
  [
    'a control character in the token',
    {
      body: form([
        ['grant_type', 'refresh_token'],
        ['refresh_token', 'a\u0000b'],
      ]),
      type: FORM,
    },
  ],
  [
    'a bogus authorization code',
    {
      body: form([
        ['grant_type', 'authorization_code'],
        ['code', 'nope'],
      ]),
      type: FORM,
    },
  ],
  [
    'client credentials with a wrong secret (WWW-Authenticate)',
    {
      body: form([['grant_type', 'client_credentials']]),
      type: FORM,
      headers: { authorization: `Basic ${Buffer.from('svc-nobody:wrong').toString('base64')}` },
    },
  ],
])('R4: refuses %s alike on both adapters', async (_name, init) => {
  const [a, b] = await both(init);
  expect(a.status).toBeGreaterThanOrEqual(400);
  expect(a.status).toBeLessThan(500);
  expect(a).toEqual(b);
});

it('R4: counts its answers in the metrics under the same route labels on both (a refused body is unmatched)', async () => {
  const count = async (adapter: Adapter, route: string, status: number) => {
    const text = await (await fetch(`${services[adapter].url}/metrics`)).text();
    const line = text
      .split('\n')
      .find((l) => l.startsWith(`sls_http_request_duration_seconds_count{method="POST",route="${route}",status="${status}"}`));
    return Number(line?.split(' ').pop() ?? 0);
  };
  const malformed = { body: '{"grant_type":', type: JSON_TYPE };
  const unknown = {
    body: form([
      ['grant_type', 'refresh_token'],
      ['refresh_token', 'nope'],
    ]),
    type: FORM,
  };
  for (const adapter of ADAPTERS) {
    const [unmatched, routed] = [await count(adapter, 'unmatched', 400), await count(adapter, '/auth/token', 400)];
    expect((await send(malformed, adapter)).status).toBe(400);
    expect((await send(unknown, adapter)).status).toBe(400);
    expect([await count(adapter, 'unmatched', 400), await count(adapter, '/auth/token', 400)]).toEqual([unmatched + 1, routed + 1]);
  }
});

it.each<[string, Parameters<typeof send>[0], string[]?]>([
  [
    'a query string on the token endpoint',
    {
      path: '/auth/token?x=1',
      body: form([
        ['grant_type', 'refresh_token'],
        ['refresh_token', 'nope'],
      ]),
      type: FORM,
    },
  ],
  ['GET on the token endpoint', { method: 'GET' }],
  [
    'a trailing slash',
    {
      path: '/auth/token/',
      body: form([
        ['grant_type', 'refresh_token'],
        ['refresh_token', 'nope'],
      ]),
      type: FORM,
    },
  ],
  ['an unknown path', { path: '/nowhere', method: 'GET' }],
  ['a bad percent-escape in the path', { path: '/auth/%zz', method: 'GET' }],
  ['the discovery document', { path: '/.well-known/openid-configuration', method: 'GET' }],
  ['a guarded route without a token', { path: '/me', method: 'GET' }],
  ['an admin route with a malformed bearer', { path: '/admin/users', method: 'GET', headers: { authorization: 'Bearer x.y.z' } }],
  ['a HEAD request', { path: '/.well-known/openid-configuration', method: 'HEAD' }],
  ['the sign-in page', { path: '/', method: 'GET' }],
  // Fastify's CORS is a hook that runs for static files too, so it adds `Vary: Origin` there; Express serves them
  // before its CORS middleware. A stylesheet is public either way, and the Vary only makes caches more careful.
  ['a static file', { path: '/assets/pages.css', method: 'GET' }, ['vary']],
  ['a static file that is not there', { path: '/assets/nope.css', method: 'GET' }],
  ['an unknown provider', { path: '/auth/nope', method: 'GET' }],
  ['the health check', { path: '/health', method: 'GET' }],
  ['the OpenAPI document', { path: '/docs-json', method: 'GET' }],
  ['the OpenID Provider’s authorization endpoint without a client', { path: '/oidc/auth?response_type=code', method: 'GET' }],
  ['a JSON body to a route that takes none', { path: '/auth/logout', body: '{}', type: JSON_TYPE }],
])('R4: answers %s alike on both adapters', async (...row) => {
  const [, init, differing = []] = row;
  const [a, b] = await both(init);
  for (const name of differing) [a, b].forEach((answer) => delete answer.headers[name]);
  expect(a).toEqual(b);
});

it('R4: answers a CORS preflight from an allowed origin and from another alike on both adapters', async () => {
  const allowed = new URL(services.express.publicUrl).origin;
  for (const origin of [allowed, 'https://evil.test']) {
    const [a, b] = await both({ method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'POST' } });
    expect(a).toEqual(b);
  }
});
