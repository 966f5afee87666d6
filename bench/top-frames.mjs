// `node bench/top-frames.mjs <file.cpuprofile> [n] [skip ms]`: a V8 CPU profile (BENCH_PROFILE=<dir> npm run bench, or
// node --cpu-prof) summed by self time per function, per package and per layer, the shares BENCHMARKS.md quotes.
import { readFileSync } from 'node:fs';

export function topFrames(profile, n = 15, { skipMs = 0 } = {}) {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const self = new Map();
  const dt = profile.timeDeltas;
  // `skipMs`: leave out the first milliseconds of the profile (start-up: module loading, key generation, migrations).
  let at = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    at += dt[i] ?? 0;
    if (at < skipMs * 1000) continue;
    const id = profile.samples[i];
    self.set(id, (self.get(id) ?? 0) + (dt[i] ?? 0));
  }
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  const fn = new Map();
  const pkg = new Map();
  const layers = new Map();
  for (const [id, us] of self) {
    const { functionName, url, lineNumber } = byId.get(id).callFrame;
    const where = url.replace(/^file:\/\//, '').replace(/^.*\/node_modules\//, '');
    const key = `${functionName || '(anonymous)'} ${where ? `${where.split('/').slice(-2).join('/')}:${lineNumber + 1}` : ''}`.trim();
    fn.set(key, (fn.get(key) ?? 0) + us);
    const group = !url
      ? functionName.startsWith('(')
        ? functionName
        : '(native)'
      : url.startsWith('node:')
        ? 'node core'
        : url.includes('/node_modules/')
          ? url.replace(/^.*\/node_modules\/((@[^/]+\/)?[^/]+).*$/, '$1')
          : url.includes('/dist/') || url.includes('/src/')
            ? 'ours'
            : 'other';
    pkg.set(group, (pkg.get(group) ?? 0) + us);
    const layer = layerOf(byId.get(id).callFrame);
    if (layer) layers.set(layer, (layers.get(layer) ?? 0) + us);
  }
  const busy = [...layers.values()].reduce((a, b) => a + b, 0);
  const rank = (m) =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([k, us]) => [k, `${((100 * us) / total).toFixed(1)}%`]);
  const byLayer = [...layers].sort((a, b) => b[1] - a[1]).map(([k, us]) => [k, `${((100 * us) / busy).toFixed(1)}%`]);
  return { totalMs: total / 1000, functions: rank(fn), packages: rank(pkg), layers: byLayer };
}

/**
 * The layer a frame belongs to, for "where does a request's CPU go" (BENCHMARKS.md): shares of the busy time, idle
 * and the main thread's wait inside the signature's hand-off to libuv's pool (`signOneShot`: wall time, not CPU)
 * left out.
 */
function layerOf({ functionName: fn, url }) {
  if (fn === '(idle)' || fn === 'signOneShot') return undefined;
  if (fn === '(garbage collector)') return 'garbage collector';
  if (/\/dist\/database\/|\/node_modules\/(better-sqlite3|typeorm|pg)\//.test(url)) return 'database (better-sqlite3, TypeORM, db.service)';
  if (
    fn === 'writev' ||
    fn === 'writeLatin1String' ||
    fn === 'writeUtf8String' ||
    /^node:(net|_http|internal\/(stream_base|streams|http))/.test(url)
  )
    return 'node:http and the sockets';
  if (
    /\/node_modules\/(express|router|body-parser|raw-body|qs|iconv-lite|type-is|content-type|media-typer|cookie-parser|cookie|etag|fresh|cors|vary)\//.test(
      url,
    )
  )
    return 'Express and its packages (router, body-parser, qs, cookie, etag, cors)';
  if (/\/node_modules\/(fastify|find-my-way|@fastify\/[^/]+|avvio|toad-cache|fast-[^/]+)\//.test(url)) return 'Fastify';
  if (/\/node_modules\/(@nestjs\/[^/]+|reflect-metadata|rxjs|class-validator|class-transformer)\//.test(url)) return 'Nest';
  if (/\/node_modules\/(prom-client|pino)\//.test(url)) return 'metrics and logging';
  if (url.includes('/dist/') || url.includes('/src/')) return 'ours';
  if (!url || url.startsWith('node:')) return fn.startsWith('(') ? fn : 'node core (crypto, timers, events, url)';
  return 'other packages';
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const r = topFrames(JSON.parse(readFileSync(process.argv[2], 'utf8')), Number(process.argv[3] ?? 20), {
    skipMs: Number(process.argv[4] ?? 0),
  });
  console.log(`total ${r.totalMs.toFixed(0)} ms sampled\n\nby package:`);
  for (const [k, v] of r.packages) console.log(`  ${v.padStart(6)}  ${k}`);
  console.log('\nby layer (share of the busy time):');
  for (const [k, v] of r.layers) console.log(`  ${v.padStart(6)}  ${k}`);
  console.log('\nby function (self):');
  for (const [k, v] of r.functions) console.log(`  ${v.padStart(6)}  ${k}`);
}
