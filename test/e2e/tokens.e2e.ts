import { createHmac, generateKeyPairSync } from 'node:crypto';
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify, SignJWT } from 'jose';
import { DataSource, IsNull } from 'typeorm';
import { AuditEvent } from '../../src/audit/audit-event.entity.js';
import { sha256 } from '../../src/common/crypto.js';
import { RefreshToken } from '../../src/tokens/refresh-token.entity.js';
import { SigningKeysService } from '../../src/tokens/signing-keys.service.js';
import { signJwt } from '../../src/tokens/jwt.js';
import { startAnswerDroppingProxy } from '../support/answer-dropping-proxy.js';
import { TestBrowser } from '../support/browser.js';
import { insertSession } from '../support/factories.js';
import { listenLocal } from '../support/net.js';
import { callApi, getJson, postJson, signInAndGetTokens } from '../support/sign-in.js';
import { ManualClock, startService, type RunningService } from '../support/service.js';
import { within } from '../support/within.js';
import { startWorld, type World } from '../support/world.js';

const decode = (jwt: string) => JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString()) as Record<string, unknown>;
const refresh = (url: string, refresh_token: unknown) => postJson(`${url}/auth/token`, { grant_type: 'refresh_token', refresh_token });

describe('tokens', () => {
  let world: World;
  let url: string;
  const signIn = (login: string, provider = 'acme') => signInAndGetTokens(new TestBrowser(), url, provider, { login });

  beforeAll(async () => {
    world = await startWorld({ ADMIN_EMAILS: 'root@corp.test' });
    url = world.service.url;
    world.corp.accounts.set('root', { email: 'root@corp.test', email_verified: true });
  });

  afterAll(async () => {
    await world?.close();
  });

  afterEach(() => {
    expect(world.service.serverErrors).toEqual([]);
  });

  describe('access tokens (RFC 9068) and the JWKS', () => {
    it('are at+jwt with kid and every contract claim, and verify with jose through the JWKS', async () => {
      const { tokens, me } = await signIn('ada');
      const header = decodeProtectedHeader(tokens.access_token);
      expect(header).toEqual({ alg: 'RS256', typ: 'at+jwt', kid: expect.any(String) });
      const jwks = await getJson(`${url}/.well-known/jwks.json`);
      expect(jwks.body.keys).toContainEqual(expect.objectContaining({ kid: header.kid, alg: 'RS256', use: 'sig', kty: 'RSA' }));
      expect(JSON.stringify(jwks.body)).not.toMatch(/"(d|p|q|dp|dq|qi)":/);
      const config = await getJson(`${url}/.well-known/openid-configuration`);
      expect(config.body).toMatchObject({
        issuer: world.service.publicUrl,
        jwks_uri: `${world.service.publicUrl}/.well-known/jwks.json`,
        token_endpoint: `${world.service.publicUrl}/auth/token`,
      });
      const { payload } = await jwtVerify(tokens.access_token, createRemoteJWKSet(new URL(`${url}/.well-known/jwks.json`)), {
        issuer: world.service.publicUrl,
        audience: world.service.publicUrl,
        algorithms: ['RS256'],
        typ: 'at+jwt',
      });
      expect(payload).toEqual({
        iss: world.service.publicUrl,
        aud: world.service.publicUrl,
        sub: me.id,
        iat: expect.any(Number),
        nbf: expect.any(Number),
        exp: (payload.iat as number) + 900,
        jti: expect.any(String),
        sid: expect.any(String),
        roles: ['user'],
      });
    });

    it('answers /me/claims from the token alone', async () => {
      const { tokens } = await signIn('bea');
      const claims = await getJson(`${url}/me/claims`, tokens.access_token);
      expect(claims.body).toEqual(decode(tokens.access_token));
    });
  });

  describe('refresh tokens (checklist R1, R3, S5)', () => {
    it('R1: rotate: each use returns a new one; reusing a spent one whose successor was used ends the whole session', async () => {
      const { tokens } = await signIn('cy');
      const second = await refresh(url, tokens.refresh_token);
      expect(second.status).toBe(200);
      expect(second.body.refresh_token).not.toBe(tokens.refresh_token);
      expect(decode(second.body.access_token as string).sid).toBe(decode(tokens.access_token).sid);
      const third = await refresh(url, second.body.refresh_token);
      expect(third.status).toBe(200);

      // The first token's successor has been used: no retry of a lost answer, whatever REFRESH_REUSE_GRACE says.
      const reuse = await refresh(url, tokens.refresh_token);
      expect(reuse).toEqual({ status: 400, body: { error: 'invalid_grant', error_description: expect.any(String) } });
      expect((await refresh(url, third.body.refresh_token)).body.error).toBe('invalid_grant');
      expect((await getJson(`${url}/me`, third.body.access_token as string)).status).toBe(401);
      expect((await getJson(`${url}/me`, tokens.access_token)).status).toBe(401);
      const audit = await world.service.app
        .get(DataSource)
        .query(`SELECT type, reason FROM audit_events WHERE type = 'refresh_token_reused'`);
      expect(audit.length).toBeGreaterThanOrEqual(1);
    });

    it('R3: of 20 concurrent uses of one refresh token, one rotates it and exactly one more is taken for a retry within REFRESH_REUSE_GRACE; the rest are reuse', async () => {
      const { tokens } = await signIn('dee');
      const answers = await Promise.all(Array.from({ length: 20 }, () => refresh(url, tokens.refresh_token)));
      // The rotation, and the one retry the grace allows (it retires the rotation's token): never a third.
      expect(answers.filter((a) => a.status === 200)).toHaveLength(2);
      expect(answers.filter((a) => a.status === 400 && a.body.error === 'invalid_grant')).toHaveLength(18);
      // A third presentation of a token is reuse: the session has ended, and no refresh token of it works.
      for (const a of answers.filter((x) => x.status === 200)) {
        expect((await refresh(url, a.body.refresh_token)).body.error).toBe('invalid_grant');
      }
    });

    it('S5: are stored only as hashes; private signing keys only encrypted', async () => {
      const { tokens } = await signIn('eve');
      const db = world.service.app.get(DataSource);
      const dump =
        JSON.stringify(await db.query('SELECT * FROM refresh_tokens')) + JSON.stringify(await db.query('SELECT * FROM sessions'));
      expect(dump).not.toContain(tokens.refresh_token);
      const keys: { private_key: string }[] = await db.query('SELECT private_key FROM signing_keys');
      for (const k of keys) {
        expect(k.private_key).toMatch(/^v1\./);
        expect(k.private_key).not.toContain('PRIVATE KEY');
      }
    });

    it('answer an unknown and a spent refresh token alike (no enumeration)', async () => {
      const { tokens } = await signIn('enum-rt');
      const next = await refresh(url, tokens.refresh_token);
      expect(next.status).toBe(200);
      expect((await refresh(url, next.body.refresh_token)).status).toBe(200);
      const spent = await refresh(url, tokens.refresh_token);
      const unknown = await refresh(url, 'B'.repeat(43));
      expect(spent).toEqual(unknown);
    });

    it('refuse malformed requests with RFC 6749 codes', async () => {
      expect((await postJson(`${url}/auth/token`, {})).body.error).toBe('invalid_request');
      expect((await postJson(`${url}/auth/token`, { grant_type: 'password' })).body.error).toBe('unsupported_grant_type');
      expect((await postJson(`${url}/auth/token`, { grant_type: 'refresh_token', refresh_token: ['a', 'b'] })).body.error).toBe(
        'invalid_request',
      );
      expect((await refresh(url, 'x'.repeat(43))).body.error).toBe('invalid_grant');
      const form = await fetch(`${url}/auth/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: 'grant_type=refresh_token&refresh_token=nope',
      });
      expect(form.status).toBe(400);
      expect(form.headers.get('cache-control')).toBe('no-store');
      const broken = await fetch(`${url}/auth/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{"grant_type":',
      });
      expect(broken.status).toBe(400);
      expect(await broken.json()).toEqual({ error: 'invalid_request', error_description: expect.any(String) });
    });
  });

  describe('ending sessions reaches access tokens on every instance within 1 s (checklist S1, S2)', () => {
    let second: RunningService;
    beforeAll(async () => {
      second = await world.secondInstance();
    });

    it('S1: logout with the refresh token', async () => {
      const { tokens } = await signIn('fay');
      expect((await getJson(`${second.url}/me`, tokens.access_token)).status).toBe(200);
      const res = await postJson(`${url}/auth/logout`, { refresh_token: tokens.refresh_token });
      expect(res.status).toBe(204);
      expect((await getJson(`${url}/me`, tokens.access_token)).status).toBe(401);
      await within(1000, async () => (await getJson(`${second.url}/me/claims`, tokens.access_token)).status === 401);
      expect((await refresh(url, tokens.refresh_token)).body.error).toBe('invalid_grant');
      const sid = decode(tokens.access_token).sid;
      const revoked = await world.service.app.get(DataSource).getRepository(AuditEvent).findBy({ type: 'session_revoked' });
      const audit = revoked.filter((e) => e.details?.sessionId === sid).map((e) => ({ reason: e.reason }));
      expect(audit).toEqual([{ reason: 'logout' }]);
    });

    it('S1: logout with the bearer access token', async () => {
      const { tokens } = await signIn('gus');
      const res = await fetch(`${url}/auth/logout`, { method: 'POST', headers: { authorization: `Bearer ${tokens.access_token}` } });
      expect(res.status).toBe(204);
      await within(1000, async () => (await getJson(`${second.url}/me/claims`, tokens.access_token)).status === 401);
    });

    it('signing one device out from the session list', async () => {
      const phone = await signIn('hal');
      const laptop = await signIn('hal');
      const list = await getJson(`${url}/me/sessions`, laptop.tokens.access_token);
      // Each device: the browser's own session at the service and the app's session its code started.
      expect(list.body).toHaveLength(4);
      const phoneSid = decode(phone.tokens.access_token).sid;
      expect(list.body).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ id: phoneSid, current: false, userAgent: 'test-browser/1.0' }),
          expect.objectContaining({ current: true }),
        ]),
      );
      const del = await fetch(`${url}/me/sessions/${phoneSid}`, {
        method: 'DELETE',
        headers: { authorization: `Bearer ${laptop.tokens.access_token}` },
      });
      expect(del.status).toBe(204);
      await within(1000, async () => (await getJson(`${second.url}/me/claims`, phone.tokens.access_token)).status === 401);
      expect((await getJson(`${second.url}/me/claims`, laptop.tokens.access_token)).status).toBe(200);
      const other = await signIn('ivy');
      const foreign = await fetch(`${url}/me/sessions/${decode(other.tokens.access_token).sid}`, {
        method: 'DELETE',
        headers: { authorization: `Bearer ${laptop.tokens.access_token}` },
      });
      expect(foreign.status).toBe(404);
    });

    it("S2: a user's tokens, when an admin disables the user or takes a role away through the admin API", async () => {
      const admin = await signIn('root', 'corp');
      const patch = (id: string, change: object) => callApi(url, 'PATCH', `/admin/users/${id}`, admin.tokens.access_token, change);
      const works = async (base: string, token: string) => (await getJson(`${base}/me/claims`, token)).status === 200;
      const endsEverywhere = async (token: string) => {
        expect(await works(url, token)).toBe(false);
        await within(1000, async () => !(await works(second.url, token)));
      };

      const { tokens, me } = await signIn('jay');
      expect([await works(url, tokens.access_token), await works(second.url, tokens.access_token)]).toEqual([true, true]);
      expect((await patch(me.id, { disabled: true })).status).toBe(200);
      await endsEverywhere(tokens.access_token);

      expect((await patch(me.id, { disabled: false, roles: ['user', 'editor'] })).status).toBe(200);
      const again = await signIn('jay');
      expect(decode(again.tokens.access_token).roles).toEqual(['user', 'editor']);
      expect([await works(url, again.tokens.access_token), await works(second.url, again.tokens.access_token)]).toEqual([true, true]);
      expect((await patch(me.id, { roles: ['user'] })).status).toBe(200);
      await endsEverywhere(again.tokens.access_token);
      // A new sign-in gets a token with the roles the user has now, which works.
      const now = await signIn('jay');
      expect(decode(now.tokens.access_token).roles).toEqual(['user']);
      expect(await works(second.url, now.tokens.access_token)).toBe(true);
    });
  });

  describe('the guard refuses forged and foreign tokens (checklist J1–J4)', () => {
    let valid: string;
    let refreshToken: string;
    beforeAll(async () => {
      const { tokens } = await signIn('kai');
      valid = tokens.access_token;
      refreshToken = tokens.refresh_token;
    });
    const call = (token: string) => getJson(`${url}/me/claims`, token);
    const enc = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');

    it('accepts the genuine token', async () => {
      expect((await call(valid)).status).toBe(200);
    });

    it('J1: refuses alg none', async () => {
      const [h, p] = valid.split('.');
      const header = { ...JSON.parse(Buffer.from(h, 'base64url').toString()), alg: 'none' };
      expect((await call(`${enc(header)}.${p}.`)).status).toBe(401);
    });

    it('J1: refuses HS256 signed with our public key', async () => {
      const header = decodeProtectedHeader(valid);
      const keys = world.service.app.get(SigningKeysService);
      const pem = keys.verificationKey(header.kid!)!.publicKey.export({ format: 'pem', type: 'spki' });
      const input = `${enc({ ...header, alg: 'HS256' })}.${valid.split('.')[1]}`;
      const forged = `${input}.${createHmac('sha256', pem).update(input).digest('base64url')}`;
      const res = await call(forged);
      expect(res).toEqual({ status: 401, body: { error: 'invalid_token', error_description: expect.any(String) } });
    });

    it('J2: refuses a changed claim, a foreign audience or issuer, and an expired token', async () => {
      const claims = decode(valid);
      const key = world.service.app.get(SigningKeysService).signingKey();
      const sign = (over: object) => signJwt({ alg: key.alg, kid: key.kid, typ: 'at+jwt' }, { ...claims, ...over }, key.privateKey);
      const [h, , s] = valid.split('.');
      expect((await call(`${h}.${enc({ ...claims, roles: ['admin'] })}.${s}`)).status).toBe(401);
      expect((await call(sign({}))).status).toBe(200);
      expect((await call(sign({ aud: 'https://other.app' }))).status).toBe(401);
      expect((await call(sign({ iss: 'https://evil.example' }))).status).toBe(401);
      const past = Math.floor(Date.now() / 1000) - 3600;
      expect((await call(sign({ iat: past - 900, nbf: past - 900, exp: past }))).status).toBe(401);
      expect((await call(sign({ nbf: Math.floor(Date.now() / 1000) + 3600 }))).status).toBe(401);
    });

    it('J4: ignores jku, x5u and jwk headers and fetches nothing', async () => {
      let hits = 0;
      const attacker = await listenLocal((_req, res) => {
        hits++;
        res.end('{}');
      });
      const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
      const jwk = publicKey.export({ format: 'jwk' });
      const forged = await new SignJWT(decode(valid))
        .setProtectedHeader({ alg: 'RS256', typ: 'at+jwt', kid: 'attacker', jku: `${attacker.url}/jwks`, x5u: `${attacker.url}/x5u`, jwk })
        .sign(privateKey);
      expect((await call(forged)).status).toBe(401);
      const sameKid = await new SignJWT(decode(valid))
        .setProtectedHeader({ alg: 'RS256', typ: 'at+jwt', kid: decodeProtectedHeader(valid).kid!, jku: `${attacker.url}/jwks` })
        .sign(privateKey);
      expect((await call(sameKid)).status).toBe(401);
      expect(hits).toBe(0);
      await attacker.close();
    });

    it('J3: refuses a refresh token, a provider ID token and a token without typ as bearer', async () => {
      expect((await call(refreshToken)).status).toBe(401);
      const key = world.service.app.get(SigningKeysService).signingKey();
      expect((await call(signJwt({ alg: key.alg, kid: key.kid, typ: 'JWT' }, decode(valid), key.privateKey))).status).toBe(401);
      // An ID token from a provider: signed by someone we do not trust for access tokens, and typ JWT.
      const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
      const idToken = await new SignJWT({ sub: decode(valid).sub as string, aud: 'acme-client' })
        .setProtectedHeader({ alg: 'RS256', typ: 'JWT' })
        .setIssuer(world.acme.issuer)
        .setIssuedAt()
        .setExpirationTime('5m')
        .sign(privateKey);
      expect((await call(idToken)).status).toBe(401);
    });

    it('answers a missing or malformed Authorization header with 401 and WWW-Authenticate', async () => {
      for (const header of [undefined, 'Basic abc', 'Bearer', 'Bearer a.b', 'Bearer ....', `Bearer ${valid} extra`]) {
        const res = await fetch(`${url}/me`, { headers: header ? { authorization: header } : {} });
        expect(res.status).toBe(401);
        expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
      }
    });
  });

  describe('signing-key rotation', () => {
    it('keeps old tokens valid, signs new ones with the new kid, publishes both, reaches other instances', async () => {
      const second = await world.secondInstance();
      const admin = await signIn('root', 'corp');
      expect(admin.me.roles).toContain('admin');
      const oldKid = decodeProtectedHeader(admin.tokens.access_token).kid;
      const user = await signIn('lou');
      expect((await postJson(`${url}/admin/keys/rotate`, {}, { authorization: `Bearer ${user.tokens.access_token}` })).status).toBe(403);
      expect((await postJson(`${url}/admin/keys/rotate`, {})).status).toBe(401);
      const rotated = await postJson(`${url}/admin/keys/rotate`, {}, { authorization: `Bearer ${admin.tokens.access_token}` });
      expect(rotated.status).toBe(200);
      expect(rotated.body.kid).not.toBe(oldKid);
      const jwks = await getJson(`${url}/.well-known/jwks.json`);
      expect((jwks.body.keys as { kid: string }[]).map((k) => k.kid)).toEqual(expect.arrayContaining([oldKid, rotated.body.kid]));
      expect((await getJson(`${url}/me/claims`, admin.tokens.access_token)).status).toBe(200);
      const fresh = await refresh(url, admin.tokens.refresh_token);
      expect(decodeProtectedHeader(fresh.body.access_token as string).kid).toBe(rotated.body.kid);
      await within(1000, async () => (await getJson(`${second.url}/me/claims`, fresh.body.access_token as string)).status === 200);
    });
  });
});

describe('lifetimes and restarts (checklist R2), with a clock the test moves', () => {
  const clock = new ManualClock();
  let world: World;
  const signIn = (login: string) => signInAndGetTokens(new TestBrowser(), world.service.url, 'acme', { login });

  beforeAll(async () => {
    world = await startWorld({ REFRESH_TOKEN_TTL: '7200', REFRESH_IDLE_TTL: '1800', ACCESS_TOKEN_TTL: '600' }, { clock });
  });

  afterAll(async () => {
    await world?.close();
  });

  it('R2: refuses a refresh token after the idle lifetime without use', async () => {
    const { tokens } = await signIn('idle');
    clock.advance(1799_000);
    const ok = await refresh(world.service.url, tokens.refresh_token);
    expect(ok.status).toBe(200);
    clock.advance(1801_000);
    expect((await refresh(world.service.url, ok.body.refresh_token)).body.error).toBe('invalid_grant');
  });

  it('R2: refuses a refresh token after the absolute lifetime even when used all along', async () => {
    const { tokens } = await signIn('busy');
    let rt = tokens.refresh_token;
    for (let i = 0; i < 4; i++) {
      clock.advance(1700_000);
      const r = await refresh(world.service.url, rt);
      expect(r.status).toBe(200);
      rt = r.body.refresh_token as string;
    }
    clock.advance(1000_000);
    expect((await refresh(world.service.url, rt)).body.error).toBe('invalid_grant');
  });

  it('expires access tokens, and removes a retired key from the JWKS once its tokens have expired', async () => {
    const { tokens } = await signIn('old');
    const kid = decodeProtectedHeader(tokens.access_token).kid;
    const keys = world.service.app.get(SigningKeysService);
    await keys.rotate();
    expect(keys.jwks().keys.map((k) => k.kid)).toContain(kid);
    clock.advance(600_000 + 301_000);
    expect((await getJson(`${world.service.url}/me/claims`, tokens.access_token)).status).toBe(401);
    await keys.rotateIfDue();
    await keys.reload();
    expect(keys.jwks().keys.map((k) => k.kid)).not.toContain(kid);
  });

  it('rotates on schedule (KEY_ROTATION_DAYS, default 30), exactly once across instances', async () => {
    const second = await world.secondInstance();
    const keys = [world.service, second].map((s) => s.app.get(SigningKeysService));
    const before = keys[0].signingKey().kid;
    expect(await keys[0].rotateIfDue()).toBe(false);
    clock.advance(31 * 86_400_000);
    const results = await Promise.all(keys.map((k) => k.rotateIfDue()));
    expect(results.filter(Boolean)).toHaveLength(1);
    await Promise.all(keys.map((k) => k.reload()));
    expect(keys[0].signingKey().kid).not.toBe(before);
    expect(keys[1].signingKey().kid).toBe(keys[0].signingKey().kid);
  });

  it('keeps tokens verifying across a restart', async () => {
    const { tokens } = await signIn('restart');
    const again = await startService(world.env, { databaseUrl: world.service.databaseUrl, publicUrl: world.service.publicUrl, clock });
    expect((await getJson(`${again.url}/me/claims`, tokens.access_token)).status).toBe(200);
    expect((await refresh(again.url, tokens.refresh_token)).status).toBe(200);
    await again.close();
  });
});

describe('a retried refresh whose answer was lost: REFRESH_REUSE_GRACE (default 30 s; issue 19), with a clock the test moves', () => {
  const clock = new ManualClock();
  let service: RunningService;
  let proxy: Awaited<ReturnType<typeof startAnswerDroppingProxy>>;

  beforeAll(async () => {
    service = await startService({}, { clock });
    proxy = await startAnswerDroppingProxy(service.url);
  });

  afterAll(async () => {
    await proxy?.close();
    await service?.close();
  });

  afterEach(() => {
    expect(service.serverErrors).toEqual([]);
  });

  const sid = (answer: { body: Record<string, unknown> }) => decode(answer.body.access_token as string).sid as string;
  const usableTokens = async (sessionId: string) =>
    (await service.app.get(DataSource).getRepository(RefreshToken).findBy({ sessionId, usedAt: IsNull() })).map((t) => t.tokenHash);
  const events = async (type: string, sessionId: string) =>
    (await service.app.get(DataSource).getRepository(AuditEvent).findBy({ type })).filter((e) => e.details?.sessionId === sessionId);
  /** Sends a refresh through the proxy, which loses the answer after the rotation committed; returns that answer. */
  const refreshAnswerLost = async (token: string) => {
    proxy.dropNext();
    await expect(refresh(proxy.url, token)).rejects.toThrow('fetch failed');
    const lost = proxy.dropped.at(-1)!;
    expect(lost.status).toBe(200);
    return lost;
  };

  it('R1: the answer of a rotation lost on the way back, the same token sent again within the grace is answered: the session lives on, with exactly one usable refresh token', async () => {
    const { refreshToken } = await insertSession(service.app);
    const lost = await refreshAnswerLost(refreshToken);
    clock.advance(5_000); // the client's timeout, then its retry
    const retry = await refresh(proxy.url, refreshToken);
    expect(retry.status).toBe(200);
    expect(retry.body.refresh_token).not.toBe(lost.body.refresh_token);
    expect(sid(retry)).toBe(sid(lost));
    expect((await getJson(`${service.url}/me`, retry.body.access_token as string)).status).toBe(200);
    // The lost answer's token was retired in the same step: the retry's is the only one left.
    expect(await usableTokens(sid(retry))).toEqual([sha256(retry.body.refresh_token as string)]);
    expect(await events('refresh_token_retried', sid(retry))).toHaveLength(1);
    expect(await events('refresh_token_reused', sid(retry))).toEqual([]);
    const next = await refresh(proxy.url, retry.body.refresh_token);
    expect(next.status).toBe(200);
    expect(sid(next)).toBe(sid(retry));
  });

  it('R1: a token is answered again only once: the successor the retry retired, or a second retry, is reuse and ends the session', async () => {
    // The lost answer's token turning up after the retry (delivered late, or a copy someone kept).
    const a = await insertSession(service.app);
    const lost = await refreshAnswerLost(a.refreshToken);
    const retry = await refresh(proxy.url, a.refreshToken);
    expect(retry.status).toBe(200);
    expect((await refresh(service.url, lost.body.refresh_token)).body.error).toBe('invalid_grant');
    expect((await refresh(service.url, retry.body.refresh_token)).body.error).toBe('invalid_grant');
    expect((await getJson(`${service.url}/me`, retry.body.access_token as string)).status).toBe(401);
    expect(await events('refresh_token_reused', sid(retry))).toHaveLength(1);

    // The same token a third time, after its retry was answered.
    const b = await insertSession(service.app);
    await refreshAnswerLost(b.refreshToken);
    const again = await refresh(service.url, b.refreshToken);
    expect(again.status).toBe(200);
    expect((await refresh(service.url, b.refreshToken)).body.error).toBe('invalid_grant');
    expect((await refresh(service.url, again.body.refresh_token)).body.error).toBe('invalid_grant');
    expect((await getJson(`${service.url}/me`, again.body.access_token as string)).status).toBe(401);
  });

  it('R1: after the grace the same retry is reuse: the session ends, its access tokens are refused, and it is audited', async () => {
    const early = await insertSession(service.app);
    const late = await insertSession(service.app);
    const spent = await Promise.all([early, late].map((s) => refresh(service.url, s.refreshToken)));
    expect(spent.map((a) => a.status)).toEqual([200, 200]);
    clock.advance(29_000);
    expect((await refresh(service.url, early.refreshToken)).status).toBe(200);
    clock.advance(1_000); // 30 s after the spend: the grace is "less than REFRESH_REUSE_GRACE seconds"
    expect(await refresh(service.url, late.refreshToken)).toEqual({
      status: 400,
      body: { error: 'invalid_grant', error_description: expect.any(String) },
    });
    expect((await refresh(service.url, spent[1].body.refresh_token)).body.error).toBe('invalid_grant');
    expect((await getJson(`${service.url}/me`, spent[1].body.access_token as string)).status).toBe(401);
    expect(await events('refresh_token_reused', sid(spent[1]))).toHaveLength(1);
    expect(await events('refresh_token_retried', sid(spent[1]))).toEqual([]);
  });

  it('R1: once the successor was used, the spent token (now an older one) is reuse even within the grace: the session ends', async () => {
    const unused = await insertSession(service.app);
    const used = await insertSession(service.app);
    expect((await refresh(service.url, unused.refreshToken)).status).toBe(200);
    const first = await refresh(service.url, used.refreshToken);
    const second = await refresh(service.url, first.body.refresh_token);
    expect([first.status, second.status]).toEqual([200, 200]);
    // Within the grace both: where the successor is still unused, a retry; where it was used, reuse.
    expect((await refresh(service.url, unused.refreshToken)).status).toBe(200);
    expect((await refresh(service.url, used.refreshToken)).body.error).toBe('invalid_grant');
    expect((await refresh(service.url, second.body.refresh_token)).body.error).toBe('invalid_grant');
    expect((await getJson(`${service.url}/me`, second.body.access_token as string)).status).toBe(401);
    expect(await events('refresh_token_reused', sid(second))).toHaveLength(1);
  });

  it('R3: of 20 concurrent retries of a just-spent token within the grace, exactly one is answered; the others are reuse', async () => {
    const { refreshToken } = await insertSession(service.app);
    await refreshAnswerLost(refreshToken);
    clock.advance(2_000);
    const answers = await Promise.all(Array.from({ length: 20 }, () => refresh(service.url, refreshToken)));
    expect(answers.filter((a) => a.status === 200)).toHaveLength(1);
    expect(answers.filter((a) => a.status === 400 && a.body.error === 'invalid_grant')).toHaveLength(19);
    const winner = answers.find((a) => a.status === 200)!;
    expect(await events('refresh_token_retried', sid(winner))).toHaveLength(1);
    // The others presented a token whose successor the winner had retired: reuse, so the session has ended.
    expect((await refresh(service.url, winner.body.refresh_token)).body.error).toBe('invalid_grant');
    expect(await events('refresh_token_reused', sid(winner))).toHaveLength(1);
  });
});

describe('REFRESH_REUSE_GRACE=0: no grace, as before issue 19', () => {
  let service: RunningService;
  let proxy: Awaited<ReturnType<typeof startAnswerDroppingProxy>>;

  beforeAll(async () => {
    service = await startService({ REFRESH_REUSE_GRACE: '0' });
    proxy = await startAnswerDroppingProxy(service.url);
  });

  afterAll(async () => {
    await proxy?.close();
    await service?.close();
  });

  afterEach(() => {
    expect(service.serverErrors).toEqual([]);
  });

  it('R1: RT1 → RT2; RT1 again at once → invalid_grant; RT2 then also fails; a retry of a lost answer too ends the session', async () => {
    const { refreshToken } = await insertSession(service.app);
    const second = await refresh(service.url, refreshToken);
    expect(second.status).toBe(200);
    expect(await refresh(service.url, refreshToken)).toEqual({
      status: 400,
      body: { error: 'invalid_grant', error_description: expect.any(String) },
    });
    expect((await refresh(service.url, second.body.refresh_token)).body.error).toBe('invalid_grant');
    expect((await getJson(`${service.url}/me`, second.body.access_token as string)).status).toBe(401);

    const other = await insertSession(service.app);
    proxy.dropNext();
    await expect(refresh(proxy.url, other.refreshToken)).rejects.toThrow('fetch failed');
    expect((await refresh(proxy.url, other.refreshToken)).body.error).toBe('invalid_grant');
    expect((await refresh(service.url, proxy.dropped.at(-1)!.body.refresh_token)).body.error).toBe('invalid_grant');
    const retried = await service.app.get(DataSource).getRepository(AuditEvent).findBy({ type: 'refresh_token_retried' });
    expect(retried).toEqual([]);
  });

  it('R3: of 20 concurrent uses of one refresh token, exactly one succeeds', async () => {
    const { refreshToken } = await insertSession(service.app);
    const answers = await Promise.all(Array.from({ length: 20 }, () => refresh(service.url, refreshToken)));
    expect(answers.filter((a) => a.status === 200)).toHaveLength(1);
    expect(answers.filter((a) => a.status === 400 && a.body.error === 'invalid_grant')).toHaveLength(19);
  });
});

describe.each(['ES256', 'EdDSA'] as const)('JWT_ALG=%s', (alg) => {
  let world: World;

  beforeAll(async () => {
    world = await startWorld({ JWT_ALG: alg });
  });

  afterAll(async () => {
    await world?.close();
  });

  it('issues tokens of that algorithm that verify through the JWKS and pass the guard', async () => {
    const { tokens } = await signInAndGetTokens(new TestBrowser(), world.service.url, 'acme', { login: `alg-${alg}` });
    expect(decodeProtectedHeader(tokens.access_token)).toMatchObject({ alg, typ: 'at+jwt' });
    const jwks = createRemoteJWKSet(new URL(`${world.service.url}/.well-known/jwks.json`));
    const { payload } = await jwtVerify(tokens.access_token, jwks, {
      issuer: world.service.publicUrl,
      audience: world.service.publicUrl,
      algorithms: [alg],
      typ: 'at+jwt',
    });
    expect(payload.roles).toEqual(['user']);
    expect((await getJson(`${world.service.url}/me/claims`, tokens.access_token)).status).toBe(200);
    const config = await getJson(`${world.service.url}/.well-known/openid-configuration`);
    expect(config.body.access_token_signing_alg_values_supported).toEqual([alg]);
  });
});
