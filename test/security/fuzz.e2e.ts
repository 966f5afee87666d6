import fc from 'fast-check';
import { DataSource } from 'typeorm';
import { TestBrowser } from '../support/browser.js';
import { signInAndGetTokens } from '../support/sign-in.js';
import { startWorld, type World } from '../support/world.js';

/**
 * Property-based fuzzing of every external input (fast-check). Properties: never a 5xx, never an unhandled
 * rejection, never a token or session for a tampered input, the database unchanged by refused requests.
 * CI runs FUZZ_RUNS (default 60) cases per property with a fixed FUZZ_SEED (default 20261126); a longer run:
 * `FUZZ_RUNS=2000 FUZZ_SEED=$RANDOM npm run test:fuzz`.
 */
const runs = Number(process.env.FUZZ_RUNS ?? 60);
fc.configureGlobal({ seed: Number(process.env.FUZZ_SEED ?? 20261126), numRuns: runs, endOnFailure: true });

let world: World;
let url: string;
let adminToken: string;
let userToken: string;
const rejections: unknown[] = [];
const onRejection = (e: unknown) => rejections.push(e);

beforeAll(async () => {
  process.on('unhandledRejection', onRejection);
  world = await startWorld({ ADMIN_EMAILS: 'fuzz-admin@corp.test' });
  url = world.service.url;
  world.corp.accounts.set('fuzz-admin', { email: 'fuzz-admin@corp.test', email_verified: true });
  adminToken = (await signInAndGetTokens(new TestBrowser(), url, 'corp', { login: 'fuzz-admin' })).tokens.access_token;
  userToken = (await signInAndGetTokens(new TestBrowser(), url, 'acme', { login: 'fuzz-user' })).tokens.access_token;
}, 60_000);

afterAll(async () => {
  process.off('unhandledRejection', onRejection);
  await world?.close();
});

afterEach(() => {
  expect(world.service.serverErrors).toEqual([]);
  expect(rejections).toEqual([]);
});

/** Row counts of what a request could create: a refused request must leave them as they were. */
async function counts() {
  const db = world.service.app.get(DataSource);
  const tables = ['users', 'identities', 'sessions', 'refresh_tokens', 'authorization_codes'];
  return Object.fromEntries(
    await Promise.all(tables.map(async (t) => [t, Number((await db.query(`SELECT count(*) AS n FROM ${t}`))[0].n)])),
  );
}

const text = fc.oneof(
  fc.string({ maxLength: 80 }),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.constantFrom('', ' ', '%00', '../', '\u0000', '"', "'", '[]', '{}', 'null', 'x'.repeat(3000)),
);
const params = fc.dictionary(
  fc.oneof(
    fc.constantFrom('code', 'state', 'iss', 'error', 'error_description', 'error_code', 'session_state'),
    fc.string({ maxLength: 12 }),
  ),
  text,
  { maxKeys: 6 },
);
const qs = (p: Record<string, string>) => new URLSearchParams(p).toString();

/** A JSON text: each opener (`[` or `{"key":`) in turn, the leaf, then their closing brackets. */
function nestJson(openers: string[], leaf: string): string {
  const closers = openers.map((o) => (o === '[' ? ']' : '}'));
  return openers.join('') + leaf + closers.reverse().join('');
}

describe('fuzzing', () => {
  it('callback query strings and cookies: never a 5xx, never a code, nothing created', async () => {
    const before = await counts();
    await fc.assert(
      fc.asyncProperty(
        params,
        fc.constantFrom('acme', 'corp', 'google', 'facebook', 'shady'),
        fc.option(fc.string({ maxLength: 200 })),
        async (p, provider, cookie) => {
          const headers: Record<string, string> = {};
          if (cookie !== null) headers.cookie = `login_${cookie.slice(0, 12).replace(/[^\w-]/g, 'x')}=${encodeURIComponent(cookie)}`;
          const res = await fetch(`${url}/auth/${provider}/callback?${qs(p)}`, { redirect: 'manual', headers });
          expect(res.status).toBeLessThan(500);
          const location = res.headers.get('location');
          if (location) expect(new URL(location).searchParams.get('code')).toBeNull();
        },
      ),
    );
    expect(await counts()).toEqual(before);
  });

  it('L2: cookies of ours holding j: (JSON) values or garbage, on every route that reads one: never a 5xx, never a code', async () => {
    const before = await counts();
    const state = fc.string({ unit: fc.constantFrom(...'ABCabc019_-'), minLength: 43, maxLength: 43 });
    // cookie-parser %-decodes a value, then JSON-decodes it when it starts with `j:`: the encoding reaches any JSON.
    const value = fc.oneof(
      fc.jsonValue({ maxDepth: 4 }).map((v) => encodeURIComponent(`j:${JSON.stringify(v)}`)),
      fc.constantFrom('j:{}', 'j:[]', 'j:"x"', 'j:null', 'j:1', 'j:', 'j:{', 'v1.a.b.c'),
      fc.string({ maxLength: 200 }).map(encodeURIComponent),
    );
    await fc.assert(
      fc.asyncProperty(
        state,
        fc.constantFrom('/', '/account', '/admin', '/me', '/auth/acme/login', 'callback', '/session/callback?code=x'),
        fc.array(fc.tuple(fc.constantFrom('sls_session', 'sls_page_pkce', 'login'), value), { minLength: 1, maxLength: 4 }),
        async (state, route, cookies) => {
          const path = route === 'callback' ? `/auth/acme/callback?${qs({ code: 'x', state, iss: world.acme.issuer })}` : route;
          const cookie = cookies.map(([name, v]) => `${name === 'login' ? `login_${state.slice(0, 12)}` : name}=${v}`).join('; ');
          const res = await fetch(`${url}${path}`, { redirect: 'manual', headers: { cookie } });
          expect(res.status).toBeLessThan(500);
          const location = res.headers.get('location');
          if (location) {
            const to = new URL(location, url);
            expect(to.searchParams.get('code')).toBeNull();
            expect(to.searchParams.get('error')).not.toBe('server_error');
          }
        },
      ),
    );
    expect(await counts()).toEqual(before);
  });

  it('returnTo and PKCE parameters at login: a redirect to the provider or an error redirect, never a 5xx', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(text, fc.webUrl({ withQueryParameters: true, withFragments: true })),
        fc.option(text),
        fc.option(text),
        async (returnTo, challenge, method) => {
          const p: Record<string, string> = { returnTo };
          if (challenge !== null) p.code_challenge = challenge;
          if (method !== null) p.code_challenge_method = method;
          const res = await fetch(`${url}/auth/acme/login?${qs(p)}`, { redirect: 'manual' });
          expect([302, 414, 431]).toContain(res.status);
          if (res.status === 302) {
            const to = new URL(res.headers.get('location')!);
            // Either the provider, or back to an allowed place (our own origin here) with an error.
            expect([world.acme.url, world.service.publicUrl]).toContain(to.origin);
          }
        },
      ),
    );
  });

  it('POST /auth/token bodies (JSON and form, wrong types, huge values, duplicated keys): never a token, never a 5xx', async () => {
    const before = await counts();
    const grant = fc.constantFrom('authorization_code', 'refresh_token', 'client_credentials', 'password', '', 'AUTHORIZATION_CODE');
    const jsonBody = fc.oneof(
      fc.anything({ maxDepth: 3 }),
      fc.record(
        { grant_type: fc.oneof(grant, fc.anything()), code: fc.anything(), code_verifier: fc.anything(), refresh_token: fc.anything() },
        { requiredKeys: [] },
      ),
    );
    const formBody = fc.array(
      fc.tuple(fc.constantFrom('grant_type', 'code', 'refresh_token', 'code_verifier', 'x'), fc.oneof(grant, text)),
      { maxLength: 6 },
    );
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          jsonBody.map((b) => ({ json: b })),
          formBody.map((f) => ({ form: f })),
        ),
        async (body) => {
          const init =
            'json' in body
              ? { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body.json) ?? 'null' }
              : {
                  headers: { 'content-type': 'application/x-www-form-urlencoded' },
                  body: body.form.map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join('&'),
                };
          const res = await fetch(`${url}/auth/token`, { method: 'POST', ...init });
          expect(res.status).toBeGreaterThanOrEqual(400);
          expect(res.status).toBeLessThan(500);
          const answer = (await res.json()) as Record<string, unknown>;
          expect(answer.access_token).toBeUndefined();
          expect(typeof answer.error).toBe('string');
        },
      ),
    );
    expect(await counts()).toEqual(before);
  });

  it('deeply nested JSON and form bodies (up to the 16 kB limit) at the token endpoint and DTO routes: a 4xx, invalid_request beyond 32 levels or with a prototype key', async () => {
    const me = (await (await fetch(`${url}/me`, { headers: { authorization: `Bearer ${adminToken}` } })).json()) as { id: string };
    const opener = fc.constantFrom('[', '{"a":', '{"grant_type":', '{"__proto__":', '{"constructor":');
    const leaf = fc.constantFrom('1', '"x"', 'null', '[]', '{}', '"refresh_token"');
    const json = fc
      .oneof(
        fc.tuple(opener, fc.integer({ min: 1, max: 8_000 })).map(([o, n]) => Array<string>(n).fill(o)),
        fc.array(opener, { minLength: 1, maxLength: 3_000 }),
      )
      .chain((openers) => leaf.map((l) => ({ openers, body: nestJson(openers, l) })));
    // Brackets would nest a form in qs's extended mode: here they must stay a flat key, however many.
    const form = fc
      .tuple(
        fc.constantFrom('grant_type', 'x', '__proto__', 'constructor', 'prototype'),
        fc.array(fc.constantFrom('[a]', '[]', '[0]', '[__proto__]'), { maxLength: 1_500 }),
        text,
      )
      .map(([name, path, v]) => ({
        key: name + path.join(''),
        body: `${encodeURIComponent(name + path.join(''))}=${encodeURIComponent(v)}`,
      }));
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          json.map((j) => ({ json: j })),
          form.map((f) => ({ form: f })),
        ),
        fc.constantFrom(
          ['POST', '/auth/token'],
          ['POST', '/auth/logout'],
          ['PATCH', `/admin/users/${me.id}`],
          ['POST', '/admin/clients'],
          ['POST', '/me/identities/acme/link'],
        ),
        async (input, [method, path]) => {
          const body = 'json' in input ? input.json.body : input.form.body;
          const type = 'json' in input ? 'application/json' : 'application/x-www-form-urlencoded';
          const res = await fetch(`${url}${path}`, {
            method,
            // No bearer token at /auth: one there would end the admin's session at /auth/logout.
            headers: path.startsWith('/auth/') ? { 'content-type': type } : { authorization: `Bearer ${adminToken}`, 'content-type': type },
            body,
          });
          expect(res.status).toBeGreaterThanOrEqual(400);
          expect(res.status).toBeLessThan(500);
          const answer = (await res.json()) as Record<string, unknown>;
          expect(typeof answer.error).toBe('string');
          if (Buffer.byteLength(body) > 16 * 1024) return expect(res.status).toBe(413);
          const hostile =
            'json' in input
              ? input.json.openers.length > 32 || input.json.openers.some((o) => /__proto__|constructor/.test(o))
              : ['__proto__', 'constructor', 'prototype'].includes(input.form.key);
          if (hostile)
            expect(answer).toEqual({ error: 'invalid_request', error_description: expect.stringMatching(/nested|may not contain/) });
        },
      ),
    );
    expect((await fetch(`${url}/me`, { headers: { authorization: `Bearer ${adminToken}` } })).status).toBe(200);
  });

  it('bearer headers: random JWT-like strings and a valid token with mutated header or claims are refused', async () => {
    const [h, p, s] = userToken.split('.');
    const json = (seg: string) => JSON.parse(Buffer.from(seg, 'base64url').toString()) as Record<string, unknown>;
    const enc = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const mutation = fc.record({
      key: fc.oneof(
        fc.constantFrom('alg', 'typ', 'kid', 'jku', 'sub', 'aud', 'iss', 'exp', 'nbf', 'roles', 'sid'),
        fc.string({ maxLength: 6 }),
      ),
      value: fc.jsonValue({ maxDepth: 2 }),
      inHeader: fc.boolean(),
    });
    const forged = fc.oneof(
      fc
        .tuple(fc.jsonValue(), fc.jsonValue(), fc.base64String({ maxLength: 400 }))
        .map(([a, b, c]) => `${enc(a)}.${enc(b)}.${c.replace(/=/g, '')}`),
      fc.string({ maxLength: 300 }),
      mutation.map(({ key, value, inHeader }) => {
        const header = json(h);
        const claims = json(p);
        (inHeader ? header : claims)[key] = value;
        return `${enc(header)}.${enc(claims)}.${s}`;
      }),
    );
    await fc.assert(
      fc.asyncProperty(forged, async (token) => {
        fc.pre(token !== userToken);
        const res = await fetch(`${url}/me/claims`, { headers: { authorization: `Bearer ${token}` } }).catch(() => undefined);
        // Characters fetch will not put in a header never reach us; anything that does is refused.
        if (res) expect(res.status).toBe(401);
      }),
    );
    expect((await fetch(`${url}/me/claims`, { headers: { authorization: `Bearer ${userToken}` } })).status).toBe(200);
  });

  it('admin query and body parameters: 2xx or 4xx, never a 5xx', async () => {
    const me = (await (await fetch(`${url}/me`, { headers: { authorization: `Bearer ${adminToken}` } })).json()) as { id: string };
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          query: fc.option(text),
          limit: fc.option(fc.oneof(fc.integer().map(String), text)),
          cursor: fc.option(text),
          bogus: fc.option(text),
        }),
        fc.record({
          roles: fc.option(fc.anything({ maxDepth: 2 })),
          disabled: fc.option(fc.anything({ maxDepth: 1 })),
          extra: fc.option(fc.anything({ maxDepth: 1 })),
        }),
        async (query, body) => {
          const q = Object.fromEntries(Object.entries(query).filter(([, v]) => v !== null)) as Record<string, string>;
          const list = await fetch(`${url}/admin/users?${qs(q)}`, { headers: { authorization: `Bearer ${adminToken}` } });
          expect(list.status).toBeLessThan(500);
          const patch = Object.fromEntries(Object.entries(body).filter(([, v]) => v !== null));
          // Aimed at the fuzzing admin itself: any accepted change that would lock it out is a last_admin 409.
          const res = await fetch(`${url}/admin/users/${me.id}`, {
            method: 'PATCH',
            headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
            body: JSON.stringify(patch),
          });
          expect(res.status).toBeLessThan(500);
          if (res.status === 200) {
            // Put the admin back as it was, so that later cases still run as admin.
            await fetch(`${url}/admin/users/${me.id}`, {
              method: 'PATCH',
              headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
              body: JSON.stringify({ roles: ['user', 'admin'], disabled: false }),
            });
          }
        },
      ),
      { numRuns: Math.min(runs, 40) },
    );
  });
});
