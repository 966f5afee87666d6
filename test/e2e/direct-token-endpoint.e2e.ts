import { GUARDS_METADATA } from '@nestjs/common/constants.js';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TokenController } from '../../src/auth/token.controller.js';
import { insertSession } from '../support/factories.js';
import { startService, type RunningService } from '../support/service.js';

/**
 * The token endpoint is served below Express's router (src/auth/direct-token-endpoint.ts) unless a request carries an
 * `Origin` header, which takes the Express path to the same controller. Every request here is sent both ways and the
 * answers compared: status, body and every header but those that differ by nature (CORS's own, the date, the request
 * id, and what depends on a fresh token's bytes).
 */
const VARYING = new Set(['date', 'x-request-id', 'etag', 'content-length', 'connection', 'keep-alive']);

type Answer = { status: number; body: unknown; headers: Record<string, string> };

let service: RunningService;
let origin: string;

async function send(
  init: { body?: string | Uint8Array; type?: string; headers?: Record<string, string> },
  viaExpress: boolean,
): Promise<Answer> {
  const headers: Record<string, string> = { ...init.headers };
  if (init.type) headers['content-type'] = init.type;
  if (viaExpress) headers.origin = origin;
  const res = await fetch(`${service.url}/auth/token`, {
    method: 'POST',
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
    if (!VARYING.has(name) && !name.startsWith('access-control-')) kept[name] = value;
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

beforeAll(async () => {
  service = await startService();
  origin = new URL(service.publicUrl).origin;
});

afterAll(async () => {
  await service?.close();
});

afterEach(() => {
  expect(service.serverErrors).toEqual([]);
});

it('is the server’s request listener in front of Express', () => {
  // (The test harness adds a listener of its own after it, which counts 5xx answers.)
  const [first, ...rest] = service.app.getHttpServer().listeners('request');
  const express = service.app.getHttpAdapter().getInstance();
  expect(first).not.toBe(express);
  expect(rest).not.toContain(express);
});

it('R4: answers a refresh the same both ways (form and JSON), and each rotation works', async () => {
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
    const [direct, express] = await Promise.all([insertSession(service.app), insertSession(service.app)]);
    const a = await send(encode(direct.refreshToken), false);
    const b = await send(encode(express.refreshToken), true);
    expect(a.status).toBe(200);
    expect(shape(a)).toEqual(shape(b));
    expect(a.headers['cache-control']).toBe('no-store');
    // The rotated token works on the other path: one state behind both.
    const again = await send(encode((a.body as { refresh_token: string }).refresh_token), true);
    expect(again.status).toBe(200);
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
])('R4: refuses %s the same both ways', async (_name, init) => {
  const a = await send(init, false);
  const b = await send(init, true);
  expect(a.status).toBeGreaterThanOrEqual(400);
  expect(a.status).toBeLessThan(500);
  expect(a).toEqual(b);
});

it('R4: counts its answers in the metrics under the same route labels as Express (a refused body is unmatched)', async () => {
  const count = async (route: string, status: number) => {
    const text = await (await fetch(`${service.url}/metrics`)).text();
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
  for (const viaExpress of [false, true]) {
    const [unmatched, routed] = [await count('unmatched', 400), await count('/auth/token', 400)];
    expect((await send(malformed, viaExpress)).status).toBe(400);
    expect((await send(unknown, viaExpress)).status).toBe(400);
    expect([await count('unmatched', 400), await count('/auth/token', 400)]).toEqual([unmatched + 1, routed + 1]);
  }
});

it('R4: leaves a query string, other methods and other paths to Express', async () => {
  const withQuery = await fetch(`${service.url}/auth/token?x=1`, {
    method: 'POST',
    headers: { 'content-type': FORM },
    body: form([
      ['grant_type', 'refresh_token'],
      ['refresh_token', 'nope'],
    ]),
  });
  expect([withQuery.status, ((await withQuery.json()) as { error: string }).error]).toEqual([400, 'invalid_grant']);
  const get = await fetch(`${service.url}/auth/token`);
  expect(get.status).toBe(404);
  const preflight = await fetch(`${service.url}/auth/token`, {
    method: 'OPTIONS',
    headers: { origin, 'access-control-request-method': 'POST' },
  });
  expect(preflight.status).toBe(204);
  expect(preflight.headers.get('access-control-allow-origin')).toBe(origin);
});

it('R4: refuses to start when the route needs more than the direct path runs (a guard of its own)', async () => {
  class ExtraGuard {
    canActivate() {
      return false;
    }
  }
  Reflect.defineMetadata(GUARDS_METADATA, [ExtraGuard], TokenController.prototype.token);
  try {
    await expect(startService()).rejects.toThrow(/needs more than the direct path runs/);
  } finally {
    Reflect.deleteMetadata(GUARDS_METADATA, TokenController.prototype.token);
  }
});

it('R4: refuses to start when the body became a DTO the global ValidationPipe would validate', async () => {
  class TokenRequestBody {}
  const key = 'design:paramtypes';
  const declared = Reflect.getMetadata(key, TokenController.prototype, 'token') as unknown[];
  Reflect.defineMetadata(key, [TokenRequestBody, ...declared.slice(1)], TokenController.prototype, 'token');
  try {
    await expect(startService()).rejects.toThrow(/a parameter the ValidationPipe validates/);
  } finally {
    Reflect.defineMetadata(key, declared, TokenController.prototype, 'token');
  }
});

it('R4: the global guards, pipes, interceptors and filters are exactly those the direct path accounts for', () => {
  // A new global one would run on the Express path only: this pins the list (src/auth/direct-token-endpoint.ts).
  const globals: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (path.endsWith('.ts') && !path.endsWith('.spec.ts')) {
        const text = readFileSync(path, 'utf8');
        for (const m of text.matchAll(/provide: (APP_(?:GUARD|INTERCEPTOR|PIPE|FILTER)), use\w+: (\w+)|app\.(useGlobal\w+)\(new (\w+)/g)) {
          globals.push(m[1] ? `${m[1]} ${m[2]}` : `${m[3]} ${m[4]}`);
        }
      }
    }
  };
  walk(fileURLToPath(new URL('../../src/', import.meta.url)));
  // JwtAuthGuard and RolesGuard pass a @Public route without @Roles (checked at start-up); RateLimitGuard runs as
  // enforce(); the ValidationPipe has nothing to validate (checked at start-up); the filter answers every error.
  expect(globals.sort()).toEqual([
    'APP_FILTER DomainErrorFilter',
    'APP_GUARD JwtAuthGuard',
    'APP_GUARD RateLimitGuard',
    'APP_GUARD RolesGuard',
    'useGlobalPipes ValidationPipe',
  ]);
});
