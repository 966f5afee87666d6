import { gzipSync } from 'node:zlib';
import { request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import { DataSource } from 'typeorm';
import { Identity } from '../../src/accounts/identity.entity.js';
import { TestBrowser } from '../support/browser.js';
import { startFacebookFake, type FacebookFake } from '../support/facebook-fake.js';
import { startGithubFake, type GithubFake } from '../support/github-fake.js';
import { startAppleStandIn, type AppleStandIn } from '../support/apple-stand-in.js';
import { guidOf, msIssuer, startMicrosoftStandIn, type MicrosoftStandIn } from '../support/microsoft-stand-in.js';
import { freePort, listenLocal } from '../support/net.js';
import { startService, type RunningService } from '../support/service.js';
import { browserSignIn } from '../support/sign-in.js';

/**
 * A hostile tester's findings against the issue-18 providers, each a test that failed before its fix. The providers
 * are reached through a front of ours that passes everything on to the GitHub stand-in, except the one answer a test
 * makes hostile, as a malicious GitHub Enterprise server, a generic OAUTH_PROVIDERS entry gone bad, or anyone on the
 * path to either could (SECURITY.md, threat model).
 */
let github: GithubFake;
let ms: MicrosoftStandIn;
let apple: AppleStandIn;
let facebook: FacebookFake;
let front: Awaited<ReturnType<typeof listenLocal>>;
let service: RunningService;
let url: string;
let returnTo: string;
const TIMEOUT_MS = 1500;

/** How the front answers `path` instead of the stand-in: writes to `res` itself and tells how it ended. */
type Hostile = (res: ServerResponse) => Promise<HostileEnd>;
interface HostileEnd {
  /** Bytes the service's side of the connection took (written and flushed) before it closed. */
  written: number;
  /** Milliseconds from the first byte to the service closing the connection; Infinity: it never did (in 5 s). */
  closedAfterMs: number;
}
let hostile: { path: string; answer: Hostile; ended?: Promise<HostileEnd> } | undefined;

/**
 * An answer that never ends: `first` as its start, then `chunk` as fast as the service reads, up to `burst` bytes,
 * then a byte every 100 ms. Reports when the service hung up, or gives up watching after 5 s.
 */
function endless(first: string, chunk: Buffer, burst: number): Hostile {
  return (res) =>
    new Promise((resolve) => {
      const started = Date.now();
      let written = 0;
      let closed = false;
      const end = (closedAfterMs: number) => {
        if (closed) return;
        closed = true;
        clearInterval(drip);
        clearTimeout(watch);
        resolve({ written, closedAfterMs });
        res.destroy();
      };
      res.on('close', () => end(Date.now() - started));
      const watch = setTimeout(() => end(Infinity), 5000);
      const drip = setInterval(() => {
        if (written >= burst && !closed) res.write(' ', () => (written += 1));
      }, 100);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write(first);
      const pump = () => {
        while (!closed && written < burst) {
          const ok = res.write(chunk, () => (written += chunk.length));
          if (!ok) return void res.once('drain', pump);
        }
      };
      pump();
    });
}

/** Passes a request on as it is: under `/ms/` to the Microsoft stand-in, `/fb/` Facebook's, anything else to GitHub's. */
function forward(req: IncomingMessage, res: ServerResponse): void {
  const [, prefix, rest] = /^\/(ms|fb)(\/.*)$/.exec(req.url!) ?? [];
  const to = prefix === 'ms' ? `${ms.url}${rest}` : prefix === 'fb' ? `${facebook.url}${rest}` : `${github.url}${req.url}`;
  const out = httpRequest(to, { method: req.method, headers: req.headers }, (answer) => {
    res.writeHead(answer.statusCode ?? 502, answer.headers);
    answer.pipe(res);
  });
  out.on('error', () => res.destroy());
  req.pipe(out);
}

beforeAll(async () => {
  github = await startGithubFake({ clientId: 'gh-app', clientSecret: 'gh-secret' });
  front = await listenLocal((req, res) => {
    const path = new URL(req.url ?? '/', front.url).pathname;
    if (hostile && path === hostile.path) {
      req.resume();
      hostile.ended = hostile.answer(res);
      return;
    }
    forward(req, res);
  });
  const port = await freePort();
  github.callbackUrl = `http://127.0.0.1:${port}/auth/github/callback`;
  ms = await startMicrosoftStandIn({
    clientId: 'ms-client',
    clientSecret: 'ms-secret',
    redirectUri: `http://127.0.0.1:${port}/auth/microsoft/callback`,
    tenant: guidOf('tenant:attacks'),
  });
  facebook = await startFacebookFake({ clientId: 'fb-app', clientSecret: 'fb-secret' });
  apple = await startAppleStandIn({ redirectUri: `http://127.0.0.1:${port}/auth/apple/callback` });
  service = await startService(
    {
      ...apple.env(),
      ...github.env,
      GITHUB_URL: front.url,
      GITHUB_API_URL: front.url,
      ...ms.env(),
      MICROSOFT_TOKEN_URL: `${front.url}/ms/oauth2/v2.0/token`,
      MICROSOFT_JWKS_URL: `${front.url}/ms/discovery/v2.0/keys`,
      ...facebook.env,
      FACEBOOK_TOKEN_URL: `${front.url}/fb/v24.0/oauth/access_token`,
      PROVIDER_TIMEOUT_MS: String(TIMEOUT_MS),
    },
    { port },
  );
  url = service.url;
  returnTo = `${service.publicUrl}/app/after-sign-in`;
}, 60_000);

afterAll(async () => {
  await service?.close();
  await front?.close();
  await github?.close();
  await ms?.close();
  await apple?.close();
  await facebook?.close();
});

afterEach(() => {
  hostile = undefined;
  // No response in the suite may be a 5xx.
  expect(service.serverErrors).toEqual([]);
});

const outcome = (u: URL) => ({ at: u.origin + u.pathname, error: u.searchParams.get('error'), code: u.searchParams.get('code') });

describe('providers that answer without end', () => {
  const MiB = 1024 * 1024;
  it.each<[string, string, Hostile]>([
    [
      'F10: a token endpoint streaming 64 MiB and more as fast as it is read',
      '/login/oauth/access_token',
      endless('{"access_token":"', Buffer.alloc(64 * 1024, 'a'), 64 * MiB),
    ],
    ['F10: a /user answer streaming 64 MiB and more', '/user', endless('{"id":1,"name":"', Buffer.alloc(64 * 1024, 'n'), 64 * MiB)],
    ['F10: a token endpoint dripping a byte every 100 ms (never done)', '/login/oauth/access_token', endless('{', Buffer.alloc(1), 0)],
  ])(
    '%s: the sign-in fails, the service hangs up within the timeout having read at most a few MiB, and the next sign-in works',
    async (_what, path, answer) => {
      hostile = { path, answer };
      const { result } = await browserSignIn(new TestBrowser(), url, 'github', { login: 'streamer', returnTo });
      expect(outcome(result)).toEqual({ at: returnTo, error: expect.stringMatching(/^provider_(error|unavailable)$/), code: null });
      const ended = await hostile.ended!;
      // Before the fix node-oauth read all 64 MiB into a string and kept the connection after the timeout, without end.
      expect(ended.closedAfterMs).toBeLessThan(TIMEOUT_MS + 1000);
      expect(ended.written).toBeLessThan(16 * MiB);
      hostile = undefined;
      const again = await browserSignIn(new TestBrowser(), url, 'github', { login: 'after-streamer', returnTo });
      expect(outcome(again.result)).toEqual({ at: returnTo, error: null, code: expect.any(String) });
    },
    30_000,
  );
});

/** An answer of `body` (JSON text) at once. */
const fixed =
  (body: string): Hostile =>
  (res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(body);
    return Promise.resolve({ written: body.length, closedAfterMs: 0 });
  };

const db = () => service.app.get(DataSource);

describe('profiles nested without end', () => {
  const deep = (n: number) => `${'['.repeat(n)}${']'.repeat(n)}`;
  it.each([
    ['100,000 lists deep (200 kB)', 100_000],
    ['10,000 lists deep', 10_000],
  ])('F10: a /user answer with a field %s signs in, its claims kept only to a sane depth, never a 5xx', async (_what, depth) => {
    const id = 7000 + depth;
    hostile = { path: '/user', answer: fixed(`{"id":${id},"login":"deep${depth}","name":"Deep","x":${deep(depth)},"y":{"z":[1]}}`) };
    const { result } = await browserSignIn(new TestBrowser(), url, 'github', { login: `deep${depth}`, returnTo });
    // Before the fix: JSON.stringify of the claims for the identity's column overflowed the stack, a 500.
    expect(service.serverErrors).toEqual([]);
    expect(outcome(result)).toEqual({ at: returnTo, error: null, code: expect.any(String) });
    const identity = await db()
      .getRepository(Identity)
      .findOneByOrFail({ provider: 'github', subject: String(id) });
    expect(identity.claims).toMatchObject({ id, login: `deep${depth}`, y: { z: [1] } });
    expect(JSON.stringify(identity.claims).length).toBeLessThan(1000);
  });
});

// Before any other Microsoft sign-in of the suite: the JWKS must not be cached yet.
describe('Microsoft: a JWKS answer without end', () => {
  it('F10: a JWKS streaming 64 MiB and more: the sign-in fails, the service hangs up having read at most a few MiB, and the next sign-in works', async () => {
    hostile = {
      path: '/ms/discovery/v2.0/keys',
      answer: endless('{"keys":[{"kty":"RSA","n":"', Buffer.alloc(64 * 1024, 'A'), 64 * 1024 * 1024),
    };
    const { result } = await browserSignIn(new TestBrowser(), url, 'microsoft', { login: 'jwks-victim', returnTo });
    expect(outcome(result)).toEqual({
      at: returnTo,
      error: expect.stringMatching(/^provider_(error|unavailable)$|^invalid_id_token$/),
      code: null,
    });
    const ended = await hostile.ended!;
    // Before the fix jose's fetch read the whole answer (response.json()), until PROVIDER_TIMEOUT_MS cut it.
    expect(ended.written).toBeLessThan(16 * 1024 * 1024);
    expect(ended.closedAfterMs).toBeLessThan(TIMEOUT_MS + 1000);
    hostile = undefined;
    const again = await browserSignIn(new TestBrowser(), url, 'microsoft', { login: 'jwks-after', returnTo });
    expect(outcome(again.result)).toEqual({ at: returnTo, error: null, code: expect.any(String) });
  }, 30_000);
});

describe.each([
  ['microsoft', '/ms/oauth2/v2.0/token'],
  ['facebook', '/fb/v24.0/oauth/access_token'],
])('%s: hostile token responses are provider_error, never server_error', (provider, TOKEN) => {
  it.each<[string, string]>([
    ['an error in a 200 answer (no access token)', '{"error":"invalid_grant","error_description":"AADSTS70008: expired"}'],
    ['an empty object', '{}'],
    ['an empty access token', '{"access_token":"","token_type":"Bearer","id_token":"x"}'],
  ])('F10: %s', async (_what, body) => {
    hostile = { path: TOKEN, answer: fixed(body) };
    const { result } = await browserSignIn(new TestBrowser(), url, provider, { login: 'token-victim', returnTo });
    expect(outcome(result)).toEqual({ at: returnTo, error: 'provider_error', code: null });
    hostile = undefined;
    const again = await browserSignIn(new TestBrowser(), url, provider, { login: 'token-after', returnTo });
    expect(outcome(again.result)).toEqual({ at: returnTo, error: null, code: expect.any(String) });
  });
});

describe('Apple: posted bodies in hostile encodings', () => {
  const gzipBomb = gzipSync(Buffer.alloc(50 * 1024 * 1024, 'a'));
  it.each<[string, Record<string, string>, string | Buffer]>([
    ['charset utf-16', { 'content-type': 'application/x-www-form-urlencoded; charset=utf-16' }, 'code=a&state=b'],
    ['charset latin1', { 'content-type': 'application/x-www-form-urlencoded; charset=iso-8859-1' }, 'code=%E9&state=b'],
    ['bad percent-encoding', { 'content-type': 'application/x-www-form-urlencoded' }, 'code=%E0%A4%A&state=%&user=%ZZ'],
    ['JSON', { 'content-type': 'application/json' }, '{"code":{"a":1},"state":["x"],"user":{"name":1}}'],
    ['JSON that is no JSON', { 'content-type': 'application/json' }, '{"code":'],
    ['deep brackets', { 'content-type': 'application/x-www-form-urlencoded' }, `user${'[a]'.repeat(5000)}=1&code=a`],
    [
      '10,000 fields',
      { 'content-type': 'application/x-www-form-urlencoded' },
      Array.from({ length: 10_000 }, (_, i) => `f${i}=1`).join('&'),
    ],
    ['a gzip bomb', { 'content-type': 'application/x-www-form-urlencoded', 'content-encoding': 'gzip' }, gzipBomb],
    ['an unknown encoding', { 'content-type': 'application/x-www-form-urlencoded', 'content-encoding': 'zstd-nope' }, 'code=a'],
    ['text/plain', { 'content-type': 'text/plain' }, 'code=a&state=b'],
    [
      'multipart',
      { 'content-type': 'multipart/form-data; boundary=x' },
      '--x\r\nContent-Disposition: form-data; name="code"\r\n\r\na\r\n--x--\r\n',
    ],
  ])(
    '%s at the callback and its resumption: a 4xx, the re-posting page or an error redirect, never a 5xx',
    async (_what, headers, body) => {
      for (const path of ['/auth/apple/callback', '/auth/apple/callback/resume']) {
        const r = await fetch(`${url}${path}`, {
          method: 'POST',
          headers,
          body: typeof body === 'string' ? body : new Uint8Array(body),
          redirect: 'manual',
        });
        const text = await r.text();
        expect({ path, status: r.status < 500 ? 'ok' : r.status, text: r.status < 500 ? '' : text }).toEqual({
          path,
          status: 'ok',
          text: '',
        });
        if (r.status === 302) expect(new URL(r.headers.get('location')!).searchParams.get('code')).toBeNull();
      }
    },
  );
});

describe('Microsoft: signed ID tokens with odd tenant and object ids', () => {
  const upper = (c: Record<string, unknown>) => ({ ...c, tid: String(c.tid).toUpperCase(), iss: msIssuer(String(c.tid).toUpperCase()) });
  it.each<[string, string, (c: Record<string, unknown>) => Record<string, unknown>]>([
    ['I2', 'an upper-case tid with the iss it makes', upper],
    ['I2', 'a tid that is a number', (c) => ({ ...c, tid: 42 })],
    ['I2', 'a tid that is a list of tenant ids', (c) => ({ ...c, tid: [c.tid, guidOf('tenant:other')] })],
    [
      'I2',
      'a tid with a trailing space and the iss it makes',
      (c) => ({ ...c, tid: `${String(c.tid)} `, iss: msIssuer(`${String(c.tid)} `) }),
    ],
  ])('%s: %s is refused (invalid_id_token), never a second account for one person', async (_row, _what, claims) => {
    ms.tamper = { claims };
    try {
      const { result } = await browserSignIn(new TestBrowser(), url, 'microsoft', { login: 'case-victim', returnTo });
      expect(outcome(result)).toEqual({ at: returnTo, error: 'invalid_id_token', code: null });
    } finally {
      ms.tamper = undefined;
    }
  });

  it.each<[string, (c: Record<string, unknown>) => Record<string, unknown>]>([
    ['an upper-case oid', (c) => ({ ...c, oid: String(c.oid).toUpperCase() })],
    ['an oid that is a number', (c) => ({ ...c, oid: 7 })],
    ['an oid with markup', (c) => ({ ...c, oid: '<script>' })],
  ])('%s is the provider’s error, never an account keyed by it', async (_what, claims) => {
    ms.tamper = { claims };
    try {
      const { result } = await browserSignIn(new TestBrowser(), url, 'microsoft', { login: 'oid-victim', returnTo });
      expect(outcome(result)).toEqual({ at: returnTo, error: 'provider_error', code: null });
    } finally {
      ms.tamper = undefined;
    }
  });
});
