import { generateKeyPairSync } from 'node:crypto';
import { decodeProtectedHeader, SignJWT } from 'jose';
import { AccessTokenError, createVerifier, type AccessTokenVerifier } from '@social-login/consumer';
import { AdminUsersService } from '../../src/admin/admin-users.service.js';
import { sha256 } from '../../src/common/crypto.js';
import { SigningKeysService } from '../../src/tokens/signing-keys.service.js';
import { insertSession } from '../support/factories.js';
import { ManualClock, startService, type RunningService } from '../support/service.js';
import { within } from '../support/within.js';

let service: RunningService;
const verifiers: AccessTokenVerifier[] = [];
const verifier = (over: Partial<Parameters<typeof createVerifier>[0]> = {}) => {
  const v = createVerifier({ issuer: service.publicUrl, audience: service.publicUrl, ...over });
  verifiers.push(v);
  return v;
};

/** A real access token from the service: a session, then the refresh grant over HTTP. */
async function accessToken(on = service): Promise<{ token: string; userId: string }> {
  const { user, refreshToken } = await insertSession(on.app);
  const res = await fetch(`${on.url}/auth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ grant_type: 'refresh_token', refresh_token: refreshToken }),
  });
  return { token: ((await res.json()) as { access_token: string }).access_token, userId: user.id };
}

const refusal = (v: AccessTokenVerifier, token: string) =>
  v.verify(token).then(
    () => 'accepted',
    (e: AccessTokenError) => `${e.status} ${e.description}`,
  );

const jwksFetches = async () => {
  const text = await (await fetch(`${service.url}/metrics`)).text();
  return [...text.matchAll(/sls_http_request_duration_seconds_count\{[^}]*route="\/\.well-known\/jwks\.json"[^}]*\} (\d+)/g)].reduce(
    (n, m) => n + Number(m[1]),
    0,
  );
};

beforeAll(async () => {
  service = await startService();
});

afterAll(async () => {
  for (const v of verifiers) v.close();
  await service?.close();
});

describe('consumer kit: AccessTokenVerifier', () => {
  it('accepts a valid token and returns its claims', async () => {
    const { token, userId } = await accessToken();
    const claims = await verifier().verify(token);
    expect(claims).toMatchObject({ sub: userId, iss: service.publicUrl, roles: ['user'], sid: expect.any(String) });
  });

  it('refuses tampered, wrong-audience, unknown-kid, alg-none, HS256-with-the-public-key and non-at+jwt tokens', async () => {
    const v = verifier();
    const { token } = await accessToken();
    const [h, p, s] = token.split('.');
    const payload = JSON.parse(Buffer.from(p, 'base64url').toString());
    const tampered = `${h}.${Buffer.from(JSON.stringify({ ...payload, roles: ['admin'] })).toString('base64url')}.${s}`;
    expect(await refusal(v, tampered)).toBe('401 bad signature');
    expect(await refusal(verifier({ audience: 'https://another-api.example' }), token)).toBe("401 the token's aud claim is not accepted");
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const foreign = await new SignJWT(payload).setProtectedHeader({ alg: 'RS256', kid: 'not-ours', typ: 'at+jwt' }).sign(privateKey);
    expect(await refusal(v, foreign)).toBe('401 the token names an unknown key');
    const none = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'at+jwt' })).toString('base64url')}.${p}.`;
    expect(await refusal(v, none)).toMatch(/^401 /);
    const jwk = ((await (await fetch(`${service.url}/.well-known/jwks.json`)).json()) as { keys: object[] }).keys[0];
    const hs = await new SignJWT(payload)
      .setProtectedHeader({ alg: 'HS256', kid: decodeProtectedHeader(token).kid!, typ: 'at+jwt' })
      .sign(Buffer.from(JSON.stringify(jwk)));
    expect(await refusal(v, hs)).toBe('401 the token uses an algorithm the issuer does not announce');
    const idTokenLike = await new SignJWT(payload).setProtectedHeader({ alg: 'RS256', kid: 'not-ours', typ: 'JWT' }).sign(privateKey);
    expect(await refusal(v, idTokenLike)).toMatch(/^401 /);
  });

  it('refuses an expired token', async () => {
    const past = await startService(
      {},
      { clock: new ManualClock(Date.now() - 3_600_000), databaseUrl: service.databaseUrl, publicUrl: service.publicUrl },
    );
    try {
      const { token } = await accessToken(past);
      expect(await refusal(verifier(), token)).toBe('401 the token has expired');
    } finally {
      await past.close();
    }
  });

  it('picks up a rotated signing key without a restart', async () => {
    const v = verifier({ jwksCooldownMs: 0 });
    const before = await accessToken();
    await v.verify(before.token);
    await service.app.get(SigningKeysService).rotate();
    const after = await accessToken();
    expect(decodeProtectedHeader(after.token).kid).not.toBe(decodeProtectedHeader(before.token).kid);
    expect((await v.verify(after.token)).sub).toBe(after.userId);
    expect((await v.verify(before.token)).sub).toBe(before.userId);
  });

  it('does not let a flood of made-up kids hammer the JWKS endpoint (one refetch per cooldown)', async () => {
    const v = verifier();
    const { token } = await accessToken();
    await v.verify(token);
    const fetchesBefore = await jwksFetches();
    expect(fetchesBefore).toBeGreaterThan(0); // the verifier's own first fetch, counted by the service
    // The announced algorithm, so each token gets as far as the key look-up.
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const bogus = await Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        new SignJWT({ sub: 'x', roles: [] }).setProtectedHeader({ alg: 'RS256', kid: `bogus-${i}`, typ: 'at+jwt' }).sign(privateKey),
      ),
    );
    const results = await Promise.all(bogus.map((t) => refusal(v, t)));
    expect(results.every((r) => r.startsWith('401'))).toBe(true);
    expect((await jwksFetches()) - fetchesBefore).toBeLessThanOrEqual(1);
  });

  it('with revocations on, refuses a signed-out session and a disabled user within the service’s bound', async () => {
    const v = verifier({ revocations: true });
    const a = await accessToken();
    const b = await accessToken();
    await v.verify(a.token);
    await v.verify(b.token);
    await fetch(`${service.url}/auth/logout`, { method: 'POST', headers: { authorization: `Bearer ${a.token}` } });
    await service.app.get(AdminUsersService).update(b.userId, { disabled: true }, 'test', { ip: null, userAgent: null });
    await within(1000, async () => (await refusal(v, a.token)) === '401 the session has ended');
    await within(1000, async () => (await refusal(v, b.token)) === '401 the session has ended');
    const c = await accessToken();
    expect((await v.verify(c.token)).sub).toBe(c.userId);
  });

  it('reads a feed that names revoked sessions only by hash and answers an unchanged poll with 304', async () => {
    const { token } = await accessToken();
    const { sid } = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString()) as { sid: string };
    await fetch(`${service.url}/auth/logout`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
    const first = await fetch(`${service.url}/auth/revocations`);
    const text = await first.text();
    expect(text).not.toContain(sid);
    expect((JSON.parse(text) as { sessions: { sid_sha256: string }[] }).sessions.map((s) => s.sid_sha256)).toContain(sha256(sid));
    const again = await fetch(`${service.url}/auth/revocations`, {
      headers: { 'if-none-match': first.headers.get('etag')!, 'cache-control': 'max-age=0' },
    });
    expect(again.status).toBe(304);
  });

  it('answers 503 temporarily_unavailable when the issuer cannot be reached', async () => {
    const v = createVerifier({ issuer: 'http://127.0.0.1:9', audience: 'x' });
    const { token } = await accessToken();
    expect(await refusal(v, token)).toBe('503 the token issuer cannot be reached');
  });
});
