// Beyond one instance (issue 20): refresh rotation on PostgreSQL through a round-robin proxy (bench/rr-proxy.mjs) in
// front of one and then two service instances sharing the database; throughput, and CPU per refresh of each
// instance and of the proxy, from /proc. On this 2-core machine the load generator, the proxy, the instances and
// PostgreSQL share the cores: throughput grows with instances only while a core is idle.
// Alone: `node bench/two-instances.bench.mjs [--smoke]` (after `npm run build`).
import { SMOKE, cpuSeconds, median, rotationLoad, startJsonProcess } from './lib.mjs';
import { seed } from './tokens.bench.mjs';
import { startService } from './op-login.bench.mjs';
import { postgresDatabase } from './lib.mjs';

const PG_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const CHAINS = 20;
const ROUNDS = SMOKE ? 1 : 3;

async function throughProxy(instances, tokens) {
  const proxy = await startJsonProcess(
    'bench/rr-proxy.mjs',
    instances.map((s) => s.url),
  );
  try {
    const pids = [proxy.child.pid, ...instances.map((s) => s.child.pid)];
    const before = pids.map((p) => cpuSeconds(p));
    const r = await rotationLoad({ url: proxy.url, path: '/auth/token', tokens });
    const cpuMs = pids.map((p, i) => ((cpuSeconds(p) - before[i]) * 1000) / Math.max(1, r.total));
    return { ...r, proxyMs: cpuMs[0], instanceMs: cpuMs.slice(1) };
  } finally {
    await proxy.stop();
  }
}

export async function twoInstancesBench() {
  const db = await postgresDatabase();
  if (!db) return [['two instances on PostgreSQL', `skipped: no server at ${PG_URL}`]];
  try {
    // Fresh chains for every round: autocannon drops the responses in flight when a round ends, so a chain's last
    // successor is never seen, and sending its predecessor again would be reuse (the session ends).
    const { refreshTokens } = await seed(db.url, CHAINS * (1 + 2 * ROUNDS));
    const chains = () => refreshTokens.splice(0, CHAINS);
    const a = await startService({ DATABASE_URL: db.url });
    const b = await startService({ DATABASE_URL: db.url });
    try {
      await throughProxy([a, b], chains()); // warm-up, both instances
      const one = [];
      const two = [];
      for (let i = 0; i < ROUNDS; i++) {
        one.push(await throughProxy([a], chains()));
        two.push(await throughProxy([a, b], chains()));
      }
      const row = (rs, label) => {
        const m = rs.find((r) => r.rps === median(rs.map((x) => x.rps)));
        const perInstance = m.instanceMs.map((ms) => ms.toFixed(2)).join(' + ');
        return [
          label,
          `${Math.round(m.rps).toLocaleString('en-US')}/s (rounds ${rs.map((r) => Math.round(r.rps)).join(', ')})`,
          `${m.p50} ms`,
          `${m.p99} ms`,
          String(rs.reduce((s, r) => s + r.errors, 0)),
          `${perInstance} ms (sum ${m.instanceMs.reduce((s, x) => s + x, 0).toFixed(2)})`,
          `${m.proxyMs.toFixed(2)} ms`,
        ];
      };
      return [
        row(one, `1 instance behind the proxy (${CHAINS} connections, each rotating its own chain)`),
        row(two, '2 instances behind the proxy (round robin)'),
        ['2 instances / 1 (median of rounds)', `${(median(two.map((r) => r.rps)) / median(one.map((r) => r.rps))).toFixed(2)}×`],
      ];
    } finally {
      await a.stop();
      await b.stop();
    }
  } finally {
    await db.drop();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const r of await twoInstancesBench()) console.log(r.join(' | '));
}
