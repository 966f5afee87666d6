// Where a trivial route's CPU goes, layer by layer, in one run: node:http alone, Express alone, Nest on Express
// alone, Fastify alone, Nest on Fastify alone (each answering the same small JSON), and the service's unguarded
// discovery route (its whole middleware stack). Rounds interleaved; CPU per request of each server process from /proc.
//   node bench/http-layers.mjs [rounds]     (also `httpLayersBench()` for bench/run.mjs)
import { SMOKE, cpuSeconds, load, median, startJsonProcess, startServiceProcess, tempDb } from './lib.mjs';

const LAYERS = [
  ['node:http alone (bench/bare-server.mjs)', () => startJsonProcess('bench/bare-server.mjs'), '/'],
  ['Express 5 alone, one route', () => startJsonProcess('bench/layer-server.mjs', ['express']), '/'],
  ['Nest 12 on Express alone, one controller', () => startJsonProcess('bench/layer-server.mjs', ['nest']), '/'],
  ['Fastify 5 alone, one route', () => startJsonProcess('bench/layer-server.mjs', ['fastify']), '/'],
  ['Nest 12 on Fastify alone, one controller', () => startJsonProcess('bench/layer-server.mjs', ['nest-fastify']), '/'],
  ['Nest 12 on Express + our per-request middleware', () => startJsonProcess('bench/layer-server.mjs', ['nest+ours']), '/'],
  ['Nest 12 on Fastify + our per-request middleware', () => startJsonProcess('bench/layer-server.mjs', ['nest-fastify+ours']), '/'],
  [
    'the service: GET /.well-known/openid-configuration (every middleware; Fastify, the default)',
    () => startServiceProcess({ DATABASE_URL: tempDb() }),
    '/.well-known/openid-configuration',
  ],
  [
    'the service on Express (HTTP_ADAPTER=express): the same route',
    () => startServiceProcess({ DATABASE_URL: tempDb(), HTTP_ADAPTER: 'express' }),
    '/.well-known/openid-configuration',
  ],
];

export async function httpLayersBench(rounds = SMOKE ? 1 : 3) {
  const servers = [];
  for (const [name, start, path] of LAYERS) servers.push({ name, path, server: await start(), runs: [] });
  try {
    for (let round = 0; round < rounds; round++) {
      for (const s of servers) {
        const pid = s.server.child.pid;
        const before = cpuSeconds(pid);
        const r = await load({ url: `${s.server.url}${s.path}`, duration: SMOKE ? 1 : 4 });
        s.runs.push({ rps: r.rps, cpuMs: ((cpuSeconds(pid) - before) * 1000) / Math.max(1, r.total) });
      }
    }
  } finally {
    for (const s of servers) await s.server.stop();
  }
  const bare = median(servers[0].runs.map((r) => r.cpuMs));
  return servers.map((s) => {
    const cpu = median(s.runs.map((r) => r.cpuMs));
    return [
      s.name,
      `${Math.round(median(s.runs.map((r) => r.rps))).toLocaleString('en-US')}/s (runs ${s.runs.map((r) => Math.round(r.rps)).join(', ')})`,
      `${cpu.toFixed(3)} ms`,
      `${(bare / cpu).toFixed(2)}×`,
    ];
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const rows = await httpLayersBench(Number(process.argv[2] ?? 3));
  console.log('layer | throughput | server CPU per request | node:http CPU / this CPU');
  for (const r of rows) console.log(r.join(' | '));
}
