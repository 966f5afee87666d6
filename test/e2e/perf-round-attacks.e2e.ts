/*
 * Hostile tests for issue 20's performance round (attack20): the node:crypto fast path for provider ID tokens
 * (id-token.verifier.ts `fastVerify`), the body middleware that runs only where a request has a body and helmet's
 * replayed headers (lean-middleware.ts). Each case states what jose's jwtVerify (the previous path) did; a token
 * the new path accepts that jwtVerify refused is a finding, and fails here.
 */
import {
  createHmac,
  generateKeyPairSync,
  randomBytes,
  createPrivateKey,
  createPublicKey,
  sign as cryptoSign,
  constants,
} from 'node:crypto';
import { connect } from 'node:net';
import { decodeJwt, decodeProtectedHeader, type JWK } from 'jose';
import { DataSource } from 'typeorm';
import { Identity } from '../../src/accounts/identity.entity.js';
import { TestBrowser } from '../support/browser.js';
import { browserSignIn, signInAndGetTokens } from '../support/sign-in.js';
import { startWorld, type World } from '../support/world.js';

let world: World;
let url: string;

beforeAll(async () => {
  world = await startWorld({ TRUST_PROXY: 'loopback' });
  url = world.service.url;
});

afterAll(async () => {
  await world?.close();
});

afterEach(() => {
  expect(world.service.serverErrors).toEqual([]);
});

const b64 = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');
const errorOf = (u: URL) => ({ error: u.searchParams.get('error'), code: u.searchParams.get('code') });

/** Signs `header.payload` (already encoded segments) with the OP's own RSA key, as the OP would for that alg. */
function signRsa(opKey: JWK, input: string, alg: 'RS256' | 'PS256' = 'RS256'): string {
  const key = createPrivateKey({ key: opKey as never, format: 'jwk' });
  const k = alg === 'PS256' ? { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 } : key;
  return cryptoSign('sha256', Buffer.from(input), k).toString('base64url');
}

/** A token with the OP's claims (nonce, aud, iss as issued), header and claims changed, signed by the OP's key. */
function resign(
  idToken: string,
  opKey: JWK,
  change: { header?: (h: Record<string, unknown>) => unknown; claims?: (c: Record<string, unknown>) => unknown; alg?: 'RS256' | 'PS256' },
) {
  const header = { ...decodeProtectedHeader(idToken) } as Record<string, unknown>;
  const claims = { ...decodeJwt(idToken) } as Record<string, unknown>;
  const input = `${b64((change.header ?? ((h) => h))(header))}.${b64((change.claims ?? ((c) => c))(claims))}`;
  return `${input}.${signRsa(opKey, input, change.alg)}`;
}

describe('provider ID tokens on the fast path, against what jose jwtVerify refused (issue 20, checklist I1–I3)', () => {
  afterEach(() => {
    world.proxy.rewrite = undefined;
  });

  async function refusedWith(rewrite: (idToken: string, opKey: JWK) => string, login: string) {
    world.proxy.rewrite = rewrite;
    const { result } = await browserSignIn(new TestBrowser(), url, 'shady', { login });
    world.proxy.rewrite = undefined;
    const db = world.service.app.get(DataSource);
    return { outcome: errorOf(result), accounts: await db.getRepository(Identity).countBy({ provider: 'shady', subject: login }) };
  }

  const cases: [string, (idToken: string, opKey: JWK) => string][] = [
    // jose (atob on Node 20) refuses a segment whose length is 1 mod 4; Buffer drops the dangling character. The
    // signature is not signed, so anyone on the path can make any valid token into a second, different string.
    ['a valid signature with one more base64url character appended (length 1 mod 4)', (t) => `${t}A`],
    ['a valid signature with "AAAAA" appended', (t) => `${t}AAAAA`],
    ['a signature with padding "="', (t) => `${t}=`],
    [
      'the signature in base64 (+/) instead of base64url',
      (t) => {
        const [h, p, s] = t.split('.');
        return `${h}.${p}.${Buffer.from(s, 'base64url').toString('base64').replace(/=+$/, '')}`;
      },
    ],
    [
      'alg none with the valid signature kept',
      (t) => {
        const [, p, s] = t.split('.');
        return `${b64({ alg: 'none' })}.${p}.${s}`;
      },
    ],
    [
      'HS256 keyed with the OP public key (PEM, alg confusion)',
      (t, k) => {
        const [, p] = t.split('.');
        const pem = createPublicKey({ key: k as never, format: 'jwk' }).export({ type: 'spki', format: 'pem' });
        const input = `${b64({ alg: 'HS256', kid: decodeProtectedHeader(t).kid })}.${p}`;
        return `${input}.${createHmac('sha256', pem).update(input).digest('base64url')}`;
      },
    ],
    [
      'HS256 keyed with the OP public JWK n',
      (t, k) => {
        const [, p] = t.split('.');
        const input = `${b64({ alg: 'HS256', kid: decodeProtectedHeader(t).kid })}.${p}`;
        return `${input}.${createHmac('sha256', Buffer.from(k.n!, 'base64url')).update(input).digest('base64url')}`;
      },
    ],
    [
      'PS256 with the OP RSA key whose JWK says alg RS256',
      (t, k) => resign(t, k, { header: (h) => ({ ...h, alg: 'PS256' }), alg: 'PS256' }),
    ],
    [
      'ES256 header over an RS256 signature (EC alg, RSA kid)',
      (t) => {
        const [h, p, s] = t.split('.');
        return `${b64({ ...JSON.parse(Buffer.from(h, 'base64url').toString()), alg: 'ES256' })}.${p}.${s}`;
      },
    ],
    [
      'EdDSA header over an RS256 signature',
      (t) => {
        const [h, p, s] = t.split('.');
        return `${b64({ ...JSON.parse(Buffer.from(h, 'base64url').toString()), alg: 'EdDSA' })}.${p}.${s}`;
      },
    ],
    ['crit: ["b64"] with b64 false, signed by the OP', (t, k) => resign(t, k, { header: (h) => ({ ...h, b64: false, crit: ['b64'] }) })],
    [
      'crit naming an unknown extension, signed by the OP',
      (t, k) => resign(t, k, { header: (h) => ({ ...h, crit: ['x-unknown'], 'x-unknown': 1 }) }),
    ],
    ['crit: [] (empty), signed by the OP', (t, k) => resign(t, k, { header: (h) => ({ ...h, crit: [] }) })],
    ['a header that is a JSON array, signed by the OP', (t, k) => resign(t, k, { header: (h) => [h] })],
    ['claims that are a JSON array, signed by the OP', (t, k) => resign(t, k, { claims: (c) => [c] })],
    [
      'expired 61 s ago beyond the 60 s tolerance',
      (t, k) => resign(t, k, { claims: (c) => ({ ...c, exp: Math.floor(Date.now() / 1000) - 62 }) }),
    ],
    ['exp as a string', (t, k) => resign(t, k, { claims: (c) => ({ ...c, exp: String(Math.floor(Date.now() / 1000) + 600) }) })],
    ['nbf two minutes ahead', (t, k) => resign(t, k, { claims: (c) => ({ ...c, nbf: Math.floor(Date.now() / 1000) + 120 }) })],
    ['iat in the future beyond tolerance', (t, k) => resign(t, k, { claims: (c) => ({ ...c, iat: Math.floor(Date.now() / 1000) + 600 }) })],
    ['no iat', (t, k) => resign(t, k, { claims: ({ iat: _iat, ...c }) => c })],
    ['aud as [client] with azp another client', (t, k) => resign(t, k, { claims: (c) => ({ ...c, aud: [c.aud], azp: 'other-client' }) })],
    ['aud [client, other] with azp client', (t, k) => resign(t, k, { claims: (c) => ({ ...c, aud: [c.aud, 'other'], azp: c.aud }) })],
    ['issuer with a trailing slash', (t, k) => resign(t, k, { claims: (c) => ({ ...c, iss: `${c.iss}/` }) })],
  ];

  it.each(cases)('refuses %s and creates no account', async (name, rewrite) => {
    const login = `fast-${Buffer.from(name).toString('hex').slice(0, 24)}${name.length}`;
    const { outcome, accounts } = await refusedWith(rewrite, login);
    // Claims that are an array are provider_error, as before the fast path (passport-openidconnect reads them first). A
    // token without iat was server_error before (passport-openidconnect's plain Error); it is invalid_id_token now.
    const expected = { 'claims that are a JSON array, signed by the OP': 'provider_error' }[name] ?? 'invalid_id_token';
    expect(outcome).toEqual({ error: expected, code: null });
    expect(accounts).toBe(0);
  });

  // An RSA-3072 signature is 384 bytes, 512 base64url characters (0 mod 4): one more character makes the segment
  // 1 mod 4, which jose's decoder (atob on Node 20, Uint8Array.fromBase64 later) refuses and Buffer silently drops.
  // Same for ES384 (96 bytes, 128 characters). The appended character is not covered by the signature.
  it('refuses a valid RS256 token from a 3072-bit key with one character appended to its signature (jose: JWSInvalid)', async () => {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 3072 });
    const jwk = { ...privateKey.export({ format: 'jwk' }), kid: randomBytes(8).toString('hex'), alg: 'RS256', use: 'sig' };
    world.shady.rotateKey({ keys: [jwk] });
    world.proxy.connect(world.shady.url, world.shady.privateJwk);
    // The key works: an untouched token from it signs in (and the service has fetched the new JWKS).
    const { me } = await signInAndGetTokens(new TestBrowser(), url, 'shady', { login: 'fast-3072-honest' });
    expect(me.identities[0]).toMatchObject({ subject: 'fast-3072-honest' });
    for (const extra of ['A', 'Q', '_']) {
      const login = `fast-3072-${extra.charCodeAt(0)}`;
      const { outcome, accounts } = await refusedWith((t) => {
        expect(t.split('.')[2].length % 4).toBe(0);
        return `${t}${extra}`;
      }, login);
      expect({ extra, outcome, accounts }).toEqual({ extra, outcome: { error: 'invalid_id_token', code: null }, accounts: 0 });
    }
  });

  it('still signs in through the proxy with the token as the OP issued it, and with duplicate header keys re-signed (JSON.parse, last wins, as jose)', async () => {
    const { me } = await signInAndGetTokens(new TestBrowser(), url, 'shady', { login: 'fast-honest' });
    expect(me.identities[0]).toMatchObject({ provider: 'shady', subject: 'fast-honest' });
  });
});

/** Writes `request` as is on a fresh connection and returns everything the server sent until it closed. */
async function raw(request: string | Buffer, waitMs = 1500): Promise<string> {
  const port = Number(new URL(url).port);
  const socket = connect(port, '127.0.0.1');
  const chunks: Buffer[] = [];
  socket.on('data', (c: Buffer) => chunks.push(c));
  await new Promise((r) => socket.once('connect', r));
  socket.write(request);
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([new Promise((r) => socket.once('close', r)), new Promise((r) => (timer = setTimeout(r, waitMs)))]).finally(() =>
    clearTimeout(timer),
  );
  socket.destroy();
  return Buffer.concat(chunks).toString('latin1');
}

/** Status line and body of each response in a raw answer (several when pipelined). */
function responses(answer: string): { status: number; body: string }[] {
  const out: { status: number; body: string }[] = [];
  for (const part of answer.split(/(?=HTTP\/1\.[01] \d{3} )/)) {
    const m = /^HTTP\/1\.[01] (\d{3})/.exec(part);
    if (m) out.push({ status: Number(m[1]), body: part.slice(part.indexOf('\r\n\r\n') + 4) });
  }
  return out;
}

describe('bodies reach handlers only through the parsers and refuseHostileBodies (lean-middleware onlyWithBody, SECURITY.md L-rows)', () => {
  const hostile = '{"grant_type":"refresh_token","refresh_token":"x","__proto__":{"admin":true}}';
  const form = 'grant_type=refresh_token&refresh_token=x&__proto__=1';

  // Each variant either is refused by Node's parser (400, no handler) or reaches the hostile-body check (400 naming
  // the key). An answer from the token endpoint itself (invalid_grant & co.) means the body got past the check.
  it.each<[string, string]>([
    ['Content-Length as sent', `Content-Length: ${hostile.length}\r\n\r\n${hostile}`],
    ['Content-Length with leading zeros', `Content-Length: 000${hostile.length}\r\n\r\n${hostile}`],
    ['Content-Length with a leading +', `Content-Length: +${hostile.length}\r\n\r\n${hostile}`],
    ['Content-Length with spaces around', `Content-Length:    ${hostile.length}   \r\n\r\n${hostile}`],
    ['two equal Content-Length headers', `Content-Length: ${hostile.length}\r\nContent-Length: ${hostile.length}\r\n\r\n${hostile}`],
    ['Content-Length "n, n"', `Content-Length: ${hostile.length}, ${hostile.length}\r\n\r\n${hostile}`],
    ['Transfer-Encoding: chunked', `Transfer-Encoding: chunked\r\n\r\n${hostile.length.toString(16)}\r\n${hostile}\r\n0\r\n\r\n`],
    ['Transfer-Encoding: Chunked (case)', `Transfer-Encoding: Chunked\r\n\r\n${hostile.length.toString(16)}\r\n${hostile}\r\n0\r\n\r\n`],
    [
      'Transfer-Encoding: chunked, chunked',
      `Transfer-Encoding: chunked, chunked\r\n\r\n${hostile.length.toString(16)}\r\n${hostile}\r\n0\r\n\r\n`,
    ],
    ['Transfer-Encoding: identity', `Transfer-Encoding: identity\r\n\r\n${hostile}`],
    [
      'Transfer-Encoding: identity with Content-Length',
      `Transfer-Encoding: identity\r\nContent-Length: ${hostile.length}\r\n\r\n${hostile}`,
    ],
    [
      'Transfer-Encoding chunked and Content-Length 0',
      `Transfer-Encoding: chunked\r\nContent-Length: 0\r\n\r\n${hostile.length.toString(16)}\r\n${hostile}\r\n0\r\n\r\n`,
    ],
    ['an empty Transfer-Encoding', `Transfer-Encoding: \r\n\r\n${hostile}`],
  ])('POST /auth/token JSON with %s never reaches the endpoint unchecked', async (_name, rest) => {
    const answer = await raw(
      `POST /auth/token HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nConnection: close\r\n${rest}`,
    );
    const [first] = responses(answer);
    expect(first).toBeDefined();
    expect(first.status).toBe(400);
    if (first.body.includes('"error"')) expect(first.body).toContain('__proto__');
    for (const r of responses(answer)) expect(r.body).not.toMatch(/invalid_grant|invalid_client|unsupported_grant_type/);
  });

  it.each<[string, string]>([
    [
      'HTTP/1.0 form',
      `POST /auth/token HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: ${form.length}\r\n\r\n${form}`,
    ],
    [
      'HTTP/1.0 form without Content-Length (read to close)',
      `POST /auth/token HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\n\r\n${form}`,
    ],
    [
      'a form with Content-Length: 0 and the form bytes after it',
      `POST /auth/token HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 0\r\n\r\n${form}`,
    ],
    [
      'GET with a JSON body',
      `GET /auth/token HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${hostile.length}\r\nConnection: close\r\n\r\n${hostile}`,
    ],
    [
      'DELETE with a JSON body',
      `DELETE /auth/token HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${hostile.length}\r\nConnection: close\r\n\r\n${hostile}`,
    ],
    [
      'pipelined: an empty POST, then the hostile one',
      `POST /auth/token HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 0\r\n\r\nPOST /auth/token HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: ${hostile.length}\r\n\r\n${hostile}`,
    ],
  ])('%s: no answer from the endpoint to an unchecked body, no 5xx', async (_name, request) => {
    const answer = await raw(request);
    const all = responses(answer);
    expect(all.length).toBeGreaterThan(0);
    for (const r of all) {
      expect(r.status).toBeLessThan(500);
      expect(r.body).not.toMatch(/invalid_grant|invalid_client/);
    }
  });

  // Without a body the parsers no longer run, so req.body stays undefined where body-parser used to leave {} (a
  // Content-Length: 0 POST). Every POST route must take that as an empty body, not fail.
  it.each([
    '/auth/token',
    '/auth/logout',
    '/auth/acme/callback',
    '/auth/apple/callback',
    '/oidc/token',
    '/oidc/token/revocation',
    '/oidc/token/introspection',
    '/oidc/userinfo',
    '/oidc/me',
    '/oidc/auth',
    '/oidc/session/end',
    '/oidc/session/end/confirm',
    '/oidc/interaction/x/consent',
    '/me/apps/x/revoke',
  ])('POST %s with Content-Length: 0 (JSON and form) is a 4xx or a 2xx/3xx, never a 5xx', async (path) => {
    for (const type of ['application/json', 'application/x-www-form-urlencoded', undefined]) {
      const answer = await raw(
        `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n${type ? `Content-Type: ${type}\r\n` : ''}Content-Length: 0\r\nConnection: close\r\n\r\n`,
      );
      const [first] = responses(answer);
      expect({ path, type, status: first?.status }).toEqual({ path, type, status: expect.any(Number) });
      expect({ path, type, status: first.status < 500 }).toEqual({ path, type, status: true });
    }
  });

  it('the OpenID Provider refuses prototype keys in its forms however the body is framed (it reads req.rawBody)', async () => {
    const opForm = 'client_id=x&response_type=code&__proto__=1&constructor=2';
    for (const path of ['/oidc/auth', '/oidc/token', '/oidc/session/end']) {
      for (const framing of [
        `Content-Length: ${opForm.length}\r\n\r\n${opForm}`,
        `Transfer-Encoding: chunked\r\n\r\n${opForm.length.toString(16)}\r\n${opForm}\r\n0\r\n\r\n`,
        `Content-Length: 0${opForm.length}\r\n\r\n${opForm}`,
      ]) {
        const answer = await raw(
          `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\nConnection: close\r\n${framing}`,
        );
        const [first] = responses(answer);
        expect({
          path,
          framing: framing.split('\r\n')[0],
          status: first?.status,
          named: /__proto__|constructor/.test(first?.body ?? ''),
        }).toEqual({
          path,
          framing: framing.split('\r\n')[0],
          status: 400,
          named: true,
        });
      }
    }
  });
});

/** helmet's headers as configured in bootstrap.ts for plain http (PUBLIC_URL http://…). */
const SECURITY_HEADERS: Record<string, string | RegExp> = {
  'content-security-policy': /default-src '(self|none)'/,
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
  'origin-agent-cluster': '?1',
  'referrer-policy': 'no-referrer',
  'x-content-type-options': 'nosniff',
  'x-dns-prefetch-control': 'off',
  'x-download-options': 'noopen',
  'x-frame-options': 'SAMEORIGIN',
  'x-permitted-cross-domain-policies': 'none',
  'x-xss-protection': '0',
};

describe("helmet's replayed headers on every kind of response (lean-middleware precomputedHeaders, F8)", () => {
  const check = (what: string, headers: Headers) => {
    const got: Record<string, string | null> = {};
    for (const name of Object.keys(SECURITY_HEADERS)) got[name] = headers.get(name);
    const want = Object.fromEntries(
      Object.entries(SECURITY_HEADERS).map(([k, v]) => [k, typeof v === 'string' ? v : expect.stringMatching(v)]),
    );
    expect({ what, ...got, 'x-powered-by': headers.get('x-powered-by') }).toEqual({ what, ...want, 'x-powered-by': null });
  };

  it.each<[string, string, RequestInit?]>([
    ['the home page', '/'],
    ['health', '/health'],
    ['a 404', '/no/such/page'],
    ['a static asset', '/assets/pages.css'],
    ['a missing static asset', '/assets/nope.css'],
    ['a traversal attempt under /assets/', '/assets/..%2f..%2fpackage.json'],
    ['a sign-in redirect', '/auth/acme/login'],
    ['an unknown provider', '/auth/nope/login'],
    ['the OP discovery document', '/oidc/.well-known/openid-configuration'],
    ['the OP JWKS', '/oidc/jwks'],
    ['the OP authorization endpoint with nothing', '/oidc/auth'],
    ['the OP end-session page', '/oidc/session/end'],
    ['the OpenAPI page', '/docs'],
    ['a bad JSON body (parser error)', '/auth/token', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{' }],
    [
      'an oversized JSON body (413)',
      '/auth/token',
      { method: 'POST', headers: { 'content-type': 'application/json' }, body: `{"a":"${'x'.repeat(20_000)}"}` },
    ],
    [
      'a hostile JSON body (400)',
      '/auth/token',
      { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"__proto__":{}}' },
    ],
    [
      'a CORS preflight',
      '/auth/token',
      { method: 'OPTIONS', headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' } },
    ],
    ['a HEAD of the home page', '/', { method: 'HEAD' }],
    ['an unauthenticated API call', '/me'],
    // A rest parameter: with three named ones, Jest would take the third as `done` on the two-element rows and wait.
  ])('%s has every helmet header', async (...[what, path, init]: [string, string, RequestInit?]) => {
    const res = await fetch(`${url}${path}`, { redirect: 'manual', ...init });
    await res.arrayBuffer();
    check(`${what} (${res.status})`, res.headers);
  });
});
