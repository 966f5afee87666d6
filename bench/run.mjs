// `npm run bench` (every row, written to BENCHMARKS.md) or `npm run bench:smoke` (seconds, tiny, prints only).
import { writeFileSync, readFileSync, existsSync } from 'node:fs';
import { SMOKE, machine } from './lib.mjs';
import { guardBench, jwtBench } from './tokens.bench.mjs';
import { limitBench, refreshVsPeerBench } from './compare.bench.mjs';
import { signInBench } from './sign-in.bench.mjs';
import { scaleBench } from './scale.bench.mjs';

const m = machine();
const sections = [
  ['Sign and verify per algorithm (node:crypto, synchronous)', 'what | rate', () => jwtBench()],
  [
    'The guard (autocannon, 10 connections, 127.0.0.1, load generator on the same machine)',
    'endpoint | throughput (median of 5 interleaved runs) | p50 | p99 | errors',
    () => guardBench(),
  ],
  [
    'The limit (autocannon, 10 connections; each server in its own process)',
    'what | throughput (median of 3) | p50 | p99 | errors | server CPU per request (median, all threads)',
    () => limitBench(),
  ],
  [
    'Refresh-token rotation vs a certified peer (autocannon, 10 connections each rotating its own chain; interleaved runs)',
    'what | throughput (median of 3) | p50 | p99 | errors | server CPU per request (median, all threads)',
    () => refreshVsPeerBench(),
  ],
  [
    'Sign-in (own client, 127.0.0.1; the provider in its own process)',
    'what | rate (median of 3) | p50 | p99 | errors',
    () => signInBench(),
  ],
  [
    'Scale (SQLite; bench/seed-users.mjs)',
    `what | ${SMOKE ? '1,000 users' : '1,000 users'} | ${SMOKE ? '10,000 users' : '1,000,000 users'} | large / small`,
    () => scaleBench(),
  ],
];

let md = `# Benchmarks\n\nRun on ${m.date}: ${m.nproc} cores (${m.cpu}), Node ${m.node}. Command: \`npm run bench\`.\n`;
md += 'Shared, noisy machines: compare ratios measured in one run, not absolute numbers across runs.\n';
for (const [title, head, run] of sections) {
  const rows = await run();
  const cols = head.split(' | ').length;
  md += `\n## ${title}\n\n| ${head} |\n|${' --- |'.repeat(cols)}\n`;
  for (const r of rows) md += `| ${r.join(' | ')} |\n`;
  console.log(`\n${title}`);
  for (const r of rows) console.log(`  ${r.join(' | ')}`);
}

if (!SMOKE) {
  const notes = existsSync('bench/NOTES.md') ? `\n${readFileSync('bench/NOTES.md', 'utf8')}` : '';
  writeFileSync('BENCHMARKS.md', md + notes);
  console.log('\nwritten to BENCHMARKS.md');
}
