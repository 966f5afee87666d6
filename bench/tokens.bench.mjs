// Benchmarks of the tokens issue: the guard's cost, refresh rotations per second, sign/verify per algorithm.
import { generateKeyPairSync } from 'node:crypto';
import { decodeJws, signJwt, verifySignature } from '../dist/tokens/jwt.js';
import { Database } from '../dist/database/db.service.js';
import { SessionsService } from '../dist/tokens/sessions.service.js';
import { User } from '../dist/accounts/user.entity.js';
import { SMOKE, inProcessApp, fmt, load, median, startServiceProcess, tempDb } from './lib.mjs';

/** Seeds `n` users with one session each, in-process, and returns an access token and n refresh tokens. */
export async function seed(databaseUrl, n) {
  const app = await inProcessApp(databaseUrl);
  const database = app.get(Database);
  const sessions = app.get(SessionsService);
  const refreshTokens = [];
  let sessionId;
  let userId;
  for (let i = 0; i < n; i++) {
    userId = `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`;
    const now = Date.now();
    await database.run((manager) =>
      manager.insert(User, {
        id: userId,
        email: null,
        emailVerified: false,
        name: `bench ${i}`,
        picture: null,
        roles: ['user'],
        providerRoles: [],
        disabled: false,
        createdAt: now,
        updatedAt: now,
      }),
    );
    const issued = await sessions.create(userId, null, { ip: '127.0.0.1', userAgent: 'bench' });
    refreshTokens.push(issued.refreshToken);
    sessionId = issued.session.id;
  }
  await app.close();
  return { refreshTokens, userId, sessionId };
}

export async function guardBench() {
  const databaseUrl = tempDb();
  const { refreshTokens } = await seed(databaseUrl, 1);
  const service = await startServiceProcess({ DATABASE_URL: databaseUrl });
  try {
    const res = await fetch(`${service.url}/auth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ grant_type: 'refresh_token', refresh_token: refreshTokens[0] }),
    });
    const { access_token } = await res.json();
    await load({ url: `${service.url}/me/claims`, headers: { authorization: `Bearer ${access_token}` }, duration: 1 }); // warm-up
    // Interleaved pairs (A B A B …), so that drift in this shared machine's speed hits both sides alike; the ratio
    // reported is the median of the per-pair ratios.
    const a = [];
    const b = [];
    for (let i = 0; i < (SMOKE ? 1 : 5); i++) {
      a.push(await load({ url: `${service.url}/.well-known/openid-configuration`, duration: SMOKE ? 1 : 4 }));
      b.push(
        await load({ url: `${service.url}/me/claims`, headers: { authorization: `Bearer ${access_token}` }, duration: SMOKE ? 1 : 4 }),
      );
    }
    const unguarded = { ...a.find((r) => r.rps === median(a.map((x) => x.rps))), runs: a.map((r) => Math.round(r.rps)) };
    const guarded = { ...b.find((r) => r.rps === median(b.map((x) => x.rps))), runs: b.map((r) => Math.round(r.rps)) };
    const ratio = median(a.map((x, i) => b[i].rps / x.rps));
    return [
      ['unguarded GET /.well-known/openid-configuration', fmt(unguarded)],
      ['guarded GET /me/claims (bearer RS256, no database)', fmt(guarded)],
      ['guarded / unguarded (median of pair ratios)', `${ratio.toFixed(2)}× (target ≥ 0.9×)`],
    ];
  } finally {
    await service.stop();
  }
}

/**
 * Sign and verify per algorithm, one core, synchronous. Also the CPU time of one signature (process.cpuUsage over the
 * signing loop: CPU, not wall time, so a busy machine's scheduling does not inflate it), the yardstick of the
 * floor and sign-in rows of the targets table: { rows, figures: { signCpuMs: { RS256, ES256, EdDSA } } }.
 */
export function jwtBench() {
  const rows = [];
  const signCpuMs = {};
  const ms = SMOKE ? 100 : 1000;
  for (const [alg, pair] of [
    ['RS256', generateKeyPairSync('rsa', { modulusLength: 2048 })],
    ['ES256', generateKeyPairSync('ec', { namedCurve: 'P-256' })],
    ['EdDSA', generateKeyPairSync('ed25519')],
  ]) {
    const header = { alg, kid: 'k', typ: 'at+jwt' };
    const claims = {
      iss: 'https://login.example.com',
      aud: 'https://login.example.com',
      sub: 'u',
      iat: 1,
      exp: 2,
      jti: 'j',
      sid: 's',
      roles: ['user'],
    };
    let signs = 0;
    let token = '';
    const cpuBefore = process.cpuUsage();
    for (const end = Date.now() + ms; Date.now() < end; signs++) token = signJwt(header, claims, pair.privateKey);
    const used = process.cpuUsage(cpuBefore);
    signCpuMs[alg] = (used.user + used.system) / 1000 / signs;
    let verifies = 0;
    for (const end = Date.now() + ms; Date.now() < end; verifies++) verifySignature(alg, decodeJws(token), pair.publicKey);
    rows.push([
      `${alg} sign / verify, one core`,
      `${Math.round((signs * 1000) / ms).toLocaleString('en-US')}/s / ${Math.round((verifies * 1000) / ms).toLocaleString('en-US')}/s`,
      `${signCpuMs[alg].toFixed(3)} ms`,
    ]);
  }
  return { rows, figures: { signCpuMs } };
}
