// `node bench/top-frames.mjs <file.cpuprofile> [n] [skip ms]`: a V8 CPU profile (BENCH_PROFILE=<dir> npm run bench, or
// node --cpu-prof) summed by self time per function and per package, the shares BENCHMARKS.md quotes.
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
  }
  const rank = (m) =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([k, us]) => [k, `${((100 * us) / total).toFixed(1)}%`]);
  return { totalMs: total / 1000, functions: rank(fn), packages: rank(pkg) };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const r = topFrames(JSON.parse(readFileSync(process.argv[2], 'utf8')), Number(process.argv[3] ?? 20), {
    skipMs: Number(process.argv[4] ?? 0),
  });
  console.log(`total ${r.totalMs.toFixed(0)} ms sampled\n\nby package:`);
  for (const [k, v] of r.packages) console.log(`  ${v.padStart(6)}  ${k}`);
  console.log('\nby function (self):');
  for (const [k, v] of r.functions) console.log(`  ${v.padStart(6)}  ${k}`);
}
