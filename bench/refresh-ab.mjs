// Two builds side by side in the same hour: refresh-token rotation over HTTP (10 connections, each rotating its own
// chain), runs interleaved A B A B …, median throughput and server CPU per request of each.
//   node bench/refresh-ab.mjs <dist A> <dist B> [sqlite|postgres] [runs]
// Both databases are seeded by this checkout's dist/ (same schema); each service process runs its own build.
import pg from 'pg';
import { cpuSeconds, median, rotationLoad, startServiceProcess, tempDb } from './lib.mjs';
import { seed } from './tokens.bench.mjs';

const [a, b, kind = 'sqlite', runs = '3'] = process.argv.slice(2);
if (!a || !b || !['sqlite', 'postgres'].includes(kind)) {
  process.stderr.write('usage: node bench/refresh-ab.mjs <dist A> <dist B> [sqlite|postgres] [runs]\n');
  process.exit(2);
}
const PG_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

async function database() {
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

async function once(dist) {
  const db = await database();
  try {
    const { refreshTokens } = await seed(db.url, 10);
    process.env.BENCH_DIST = dist;
    const service = await startServiceProcess({ DATABASE_URL: db.url });
    try {
      const before = cpuSeconds(service.child.pid);
      const r = await rotationLoad({ url: service.url, path: '/auth/token', tokens: refreshTokens });
      return { ...r, cpuMs: ((cpuSeconds(service.child.pid) - before) * 1000) / Math.max(1, r.total) };
    } finally {
      await service.stop();
    }
  } finally {
    await db.drop();
  }
}

const results = { [a]: [], [b]: [] };
for (let i = 0; i < Number(runs); i++) {
  for (const dist of [a, b]) {
    const r = await once(dist);
    results[dist].push(r);
    console.log(`${dist}: ${Math.round(r.rps)}/s, ${r.cpuMs.toFixed(2)} ms CPU per request, ${r.errors} errors`);
  }
}
for (const dist of [a, b]) {
  const rs = results[dist];
  console.log(
    `median ${dist} (${kind}): ${Math.round(median(rs.map((r) => r.rps)))}/s, ${median(rs.map((r) => r.cpuMs)).toFixed(2)} ms CPU per request`,
  );
}
