// Side by side, in one run: the machine's limit (a bare node:http server) against the service's own unguarded
// endpoint, and our refresh grant against a certified peer's (oidc-provider), on SQLite and on PostgreSQL.
import pg from 'pg';
import { SMOKE, inProcessApp, cpuSeconds, fmt, load, median, rotationLoad, startJsonProcess, startServiceProcess, tempDb } from './lib.mjs';
import { SessionsService } from '../dist/tokens/sessions.service.js';
import { seed } from './tokens.bench.mjs';

const RUNS = SMOKE ? 1 : 3;
const CHAINS = 10;
const PG_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/**
 * Runs one load against a server process and adds that process's CPU time per request (user + system, /proc), all
 * threads and the main (event-loop) thread alone; the rest is libuv's pool (our signatures) and V8's helpers (GC).
 */
async function withCpu(pid, run) {
  const [all, main] = [cpuSeconds(pid), cpuSeconds(pid, true)];
  const r = await run();
  const perRequest = (s) => (s * 1000) / Math.max(1, r.total);
  return { ...r, cpuMs: perRequest(cpuSeconds(pid) - all), mainMs: perRequest(cpuSeconds(pid, true) - main) };
}
const cpu = (rs) => `${median(rs.map((r) => r.cpuMs)).toFixed(2)} ms (main thread ${median(rs.map((r) => r.mainMs)).toFixed(2)} ms)`;

const summary = (rs) => ({ ...rs.find((r) => r.rps === median(rs.map((x) => x.rps))), runs: rs.map((r) => Math.round(r.rps)) });
const ratio = (as, bs) => median(as.map((a, i) => a.rps / bs[i].rps));

export async function limitBench() {
  const bare = await startJsonProcess('bench/bare-server.mjs');
  const service = await startServiceProcess({ DATABASE_URL: tempDb() });
  try {
    const a = [];
    const b = [];
    for (let i = 0; i < RUNS; i++) {
      a.push(await withCpu(bare.child.pid, () => load({ url: `${bare.url}/`, duration: SMOKE ? 1 : 5 })));
      b.push(
        await withCpu(service.child.pid, () => load({ url: `${service.url}/.well-known/openid-configuration`, duration: SMOKE ? 1 : 5 })),
      );
    }
    return [
      ['bare node:http server, same small JSON (the limit)', fmt(summary(a)), cpu(a)],
      ['service, unguarded GET /.well-known/openid-configuration', fmt(summary(b)), cpu(b)],
      ['service / limit (median of pair ratios)', `${ratio(b, a).toFixed(2)}×`],
    ];
  } finally {
    await service.stop();
    await bare.stop();
  }
}

async function postgresDatabase() {
  const admin = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 2000 });
  try {
    await admin.connect();
  } catch {
    return undefined;
  }
  const name = `sls_bench_${Date.now().toString(36)}${Math.floor(Math.random() * 1e6)}`;
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(PG_URL);
  url.pathname = `/${name}`;
  return {
    url: url.href,
    drop: async () => {
      const c = new pg.Client({ connectionString: PG_URL });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}

async function ours(databaseUrl) {
  const { refreshTokens } = await seed(databaseUrl, CHAINS);
  const service = await startServiceProcess({ DATABASE_URL: databaseUrl });
  try {
    return await withCpu(service.child.pid, () => rotationLoad({ url: service.url, path: '/auth/token', tokens: refreshTokens }));
  } finally {
    await service.stop();
  }
}

async function peer() {
  const op = await startJsonProcess('bench/peer-server.mjs', [CHAINS]);
  try {
    return await withCpu(op.child.pid, () =>
      rotationLoad({
        url: op.url,
        path: '/token',
        tokens: op.refreshTokens,
        form: { client_id: 'bench', client_secret: 'bench-secret' },
      }),
    );
  } finally {
    await op.stop();
  }
}

/**
 * The rotation alone, in this process: SessionsService.rotate on SQLite (its transaction, statements and hashing),
 * no HTTP and no signature. CPU per rotation, for the arithmetic in BENCHMARKS.md.
 */
async function rotationAlone() {
  const databaseUrl = tempDb();
  const { refreshTokens } = await seed(databaseUrl, 1);
  const app = await inProcessApp(databaseUrl);
  try {
    const sessions = app.get(SessionsService);
    const ctx = { ip: '127.0.0.1', userAgent: 'bench' };
    let token = refreshTokens[0];
    for (let i = 0; i < 200; i++) token = (await sessions.rotate(token, ctx)).refreshToken; // warm-up
    const n = SMOKE ? 200 : 3000;
    const before = process.cpuUsage();
    for (let i = 0; i < n; i++) token = (await sessions.rotate(token, ctx)).refreshToken;
    const used = process.cpuUsage(before);
    return (used.user + used.system) / 1000 / n;
  } finally {
    await app.close();
  }
}

export async function refreshVsPeerBench() {
  const sqlite = [];
  const peers = [];
  const postgres = [];
  for (let i = 0; i < RUNS; i++) {
    sqlite.push(await ours(tempDb()));
    peers.push(await peer());
    const db = await postgresDatabase();
    if (db) {
      try {
        postgres.push(await ours(db.url));
      } finally {
        await db.drop();
      }
    }
  }
  const rows = [
    ['ours, SQLite (durable: WAL, synchronous=NORMAL)', fmt(summary(sqlite)), cpu(sqlite)],
    ['oidc-provider 9, in memory (rotateRefreshToken, RS256 JWT access tokens)', fmt(summary(peers)), cpu(peers)],
    ['ours SQLite / peer (median of per-run ratios)', `${ratio(sqlite, peers).toFixed(2)}× (target ≥ 2×, and ≥ 1,500/s)`],
    [
      'ours, the rotation alone (SessionsService.rotate in-process on SQLite: no HTTP, no signature)',
      '',
      '',
      '',
      '',
      `${(await rotationAlone()).toFixed(2)} ms`,
    ],
  ];
  if (postgres.length) {
    rows.splice(2, 0, ['ours, PostgreSQL (local server, pool of 10)', fmt(summary(postgres)), cpu(postgres)]);
    rows.push(['ours PostgreSQL / peer (median of per-run ratios)', `${ratio(postgres, peers).toFixed(2)}×`]);
  } else {
    rows.push(['ours, PostgreSQL', `skipped: no server at ${PG_URL}`]);
  }
  return rows;
}
