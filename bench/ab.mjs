// Two builds side by side in the same hour, runs interleaved A B A B …; the medians of throughput and of the server's
// CPU per request (all threads, /proc) of each.
//   node bench/ab.mjs <dist A> <dist B> refresh [sqlite|postgres] [runs]     (<dist>@express: that build on Express)
//     refresh-token rotation over HTTP: 10 connections, each rotating its own chain; a fresh database per run, seeded
//     by this checkout's dist/ (the schema is the same)
//   node bench/ab.mjs <dist A> <dist B> get [path] [runs]
//     GET <path> (default /.well-known/openid-configuration), both services running at once, 4 s loads in turn
import pg from 'pg';
import { cpuSeconds, load, median, rotationLoad, startServiceProcess, tempDb } from './lib.mjs';
import { seed } from './tokens.bench.mjs';

const [a, b, mode, ...rest] = process.argv.slice(2);
if (!a || !b || !['refresh', 'get'].includes(mode)) {
  process.stderr.write('usage: node bench/ab.mjs <dist A> <dist B> refresh [sqlite|postgres] [runs]\n');
  process.stderr.write('       node bench/ab.mjs <dist A> <dist B> get [path] [runs]\n');
  process.exit(2);
}
const PG_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

async function database(kind) {
  if (kind === 'sqlite') return { url: tempDb(), drop: async () => {} };
  const name = `sls_ab_${Date.now().toString(36)}${Math.floor(Math.random() * 1e6)}`;
  const run = async (sql) => {
    const client = new pg.Client({ connectionString: PG_URL });
    await client.connect();
    try {
      await client.query(sql);
    } finally {
      await client.end();
    }
  };
  await run(`CREATE DATABASE ${name}`);
  const url = new URL(PG_URL);
  url.pathname = `/${name}`;
  return { url: url.href, drop: () => run(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) };
}

/**
 * `<dist>` runs on the configured adapter (Fastify by default); `<dist>@express` runs the same build with
 * HTTP_ADAPTER=express (`<dist>@fastify` likewise), so `node bench/ab.mjs dist@express dist …` compares the two
 * adapters in one hour.
 */
function start(side, env) {
  const [dist, adapter] = side.split('@');
  process.env.BENCH_DIST = dist;
  return startServiceProcess(adapter ? { ...env, HTTP_ADAPTER: adapter } : env);
}

async function withCpu(pid, run) {
  const before = cpuSeconds(pid);
  const r = await run();
  return { ...r, cpuMs: ((cpuSeconds(pid) - before) * 1000) / Math.max(1, r.total) };
}

async function refresh(dist, kind) {
  const db = await database(kind);
  try {
    const { refreshTokens } = await seed(db.url, 10);
    const service = await start(dist, { DATABASE_URL: db.url });
    try {
      return await withCpu(service.child.pid, () => rotationLoad({ url: service.url, path: '/auth/token', tokens: refreshTokens }));
    } finally {
      await service.stop();
    }
  } finally {
    await db.drop();
  }
}

const results = { [a]: [], [b]: [] };
const report = (dist, r) => {
  results[dist].push(r);
  console.log(`${dist}: ${Math.round(r.rps)}/s, ${r.cpuMs.toFixed(3)} ms CPU per request, ${r.errors} errors`);
};

if (mode === 'refresh') {
  const [kind = 'sqlite', runs = '3'] = rest;
  for (let i = 0; i < Number(runs); i++) for (const dist of [a, b]) report(dist, await refresh(dist, kind));
} else {
  const [path = '/.well-known/openid-configuration', runs = '6'] = rest;
  const services = { [a]: await start(a, { DATABASE_URL: tempDb() }), [b]: await start(b, { DATABASE_URL: tempDb() }) };
  try {
    for (const s of Object.values(services)) await load({ url: `${s.url}${path}`, duration: 2 }); // warm-up
    for (let i = 0; i < Number(runs); i++) {
      for (const dist of [a, b]) {
        const s = services[dist];
        report(dist, await withCpu(s.child.pid, () => load({ url: `${s.url}${path}`, duration: 4 })));
      }
    }
  } finally {
    for (const s of Object.values(services)) await s.stop();
  }
}
const ratios = results[b].map((r, i) => r.cpuMs / results[a][i].cpuMs);
for (const dist of [a, b]) {
  const rs = results[dist];
  console.log(
    `median ${dist}: ${Math.round(median(rs.map((r) => r.rps)))}/s, ${median(rs.map((r) => r.cpuMs)).toFixed(3)} ms CPU per request`,
  );
}
console.log(`CPU per request, B / A (median of the pairs): ${median(ratios).toFixed(3)}`);
