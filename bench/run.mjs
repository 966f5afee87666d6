// `npm run bench` (every row, written to BENCHMARKS.md) or `npm run bench:smoke` (seconds, tiny, prints only).
// Every ratio of issue 20's table is measured in this one run and summed up in a targets table at the top.
import { writeFileSync, readFileSync, existsSync } from 'node:fs';
import { SMOKE, machine, rounds } from './lib.mjs';
import { guardBench, jwtBench } from './tokens.bench.mjs';
import { limitBench, refreshVsPeerBench } from './compare.bench.mjs';
import { signInBench } from './sign-in.bench.mjs';
import { scaleBench } from './scale.bench.mjs';
import { httpLayersBench } from './http-layers.mjs';

/** A bench in another file, run only when that file exists (benches added alongside this one). */
async function optional(file, name) {
  if (!existsSync(new URL(file, import.meta.url))) return undefined;
  const fn = (await import(file))[name];
  return typeof fn === 'function' ? fn : undefined;
}
const opLoginBench = await optional('./op-login.bench.mjs', 'opLoginBench');
const twoInstancesBench = await optional('./two-instances.bench.mjs', 'twoInstancesBench');

// Each section's bench returns its rows, or { rows, figures }; the figures of earlier sections are passed on (the
// sign-in is expressed in RS256 signatures of this run's jwtBench).
const figures = {};
const sections = [
  ['jwt', 'Sign and verify per algorithm (node:crypto, synchronous)', 'what | rate | CPU per signature', () => jwtBench()],
  [
    'guard',
    'The guard (autocannon, 10 connections, 127.0.0.1, load generator on the same machine)',
    'endpoint | throughput (median of 5 interleaved runs) | p50 | p99 | errors',
    () => guardBench(),
  ],
  [
    'limit',
    'The limit (autocannon, 10 connections; each server in its own process)',
    'what | throughput (median of 3) | p50 | p99 | errors | server CPU per request (median, all threads)',
    () => limitBench(),
  ],
  [
    'httpLayers',
    'The HTTP layer, layer by layer (bench/http-layers.mjs; each server in its own process, rounds interleaved)',
    'layer | throughput (median) | server CPU per request (median) | node:http CPU / this CPU',
    () => httpLayersBench(),
  ],
  [
    'refresh',
    'Refresh-token rotation vs a certified peer (autocannon, 10 connections each rotating its own chain; interleaved rounds, a fresh process each)',
    'what | throughput (median of 3) | p50 | p99 | errors | server CPU per request (median, all threads)',
    () => refreshVsPeerBench(),
  ],
  [
    'signIn',
    'Sign-in (own client, 127.0.0.1; the provider in its own process)',
    'what | rate (median of 3) | p50 | p99 | errors',
    () => signInBench(figures.jwt?.signCpuMs?.RS256),
  ],
  [
    'signInExpress',
    'Sign-in on Express (HTTP_ADAPTER=express; the same build, provider and client)',
    'what | rate (median of 3) | p50 | p99 | errors',
    () => signInBench(figures.jwt?.signCpuMs?.RS256, 'express'),
  ],
  [
    'scale',
    'Scale (SQLite; bench/seed-users.mjs)',
    `what | 1,000 users | ${SMOKE ? '10,000 users' : '1,000,000 users'} | large / small`,
    () => scaleBench(),
  ],
];
if (opLoginBench)
  sections.push([
    'opLogin',
    'OpenID Provider: a returning user’s authorization-code login, ours vs oidc-provider (bench/op-login.bench.mjs)',
    'what | figures',
    () => opLoginBench(),
  ]);
if (twoInstancesBench)
  sections.push([
    'twoInstances',
    'Two instances behind a proxy, PostgreSQL (bench/two-instances.bench.mjs)',
    'what | figures',
    () => twoInstancesBench(),
  ]);

const m = machine();
let body = '';
const rowsOf = {};
const failed = [];
for (const [key, title, head, run] of sections) {
  // A section that throws is reported as a row and fails the run (exit code 1, so CI's smoke run catches it) once the
  // other sections have been measured and written.
  let result;
  try {
    result = await run();
  } catch (error) {
    failed.push(key);
    console.error(error);
    result = [[`failed: ${String(error?.message ?? error).replaceAll('|', '/')}`]];
  }
  const rows = Array.isArray(result) ? result : result.rows;
  rowsOf[key] = rows;
  if (!Array.isArray(result)) figures[key] = result.figures;
  const cols = Math.max(head.split(' | ').length, ...rows.map((r) => r.join(' | ').split(' | ').length));
  body += `\n## ${title}\n\n| ${head}${' | '.repeat(cols - head.split(' | ').length)} |\n|${' --- |'.repeat(cols)}\n`;
  for (const r of rows) body += `| ${r.join(' | ')} |\n`;
  console.log(`\n${title}`);
  for (const r of rows) console.log(`  ${r.join(' | ')}`);
}

// ---- the targets table (issue 20), from this run's figures ----------------------------------------------------------
const x = (v) => `${v.toFixed(2)}×`;
const ms = (v) => `${v.toFixed(2)} ms`;
const targets = [];
/** `atLeast`: the measured value must be ≥ target (else ≤). `value` undefined: not measured in this run. */
function target(what, value, measured, goal, atLeast) {
  const met = value === undefined || Number.isNaN(value) ? '—' : (atLeast ? value >= goal : value <= goal) ? 'yes' : 'no';
  targets.push([what, measured, `${atLeast ? '≥' : '≤'} ${goal}${what.includes('signatures') ? '' : '×'}`, met]);
}

const jwt = figures.jwt?.signCpuMs;
const limit = figures.limit;
const refresh = figures.refresh;
const vsPeer = (f) =>
  `**${x(f.ratio)}** — ours median ${Math.round(median(f.oursRps))}/s (rounds ${rounds(f.oursRps)}), the peer's best ` +
  `${Math.round(Math.max(...f.peerRps))}/s (rounds ${rounds(f.peerRps)}); CPU per refresh ours ${ms(f.oursCpuMs)}, ` +
  `the peer's ${rounds(f.peerCpuMs, 2)} ms (least / ours ${x(f.cpuRatio)})`;
target(
  'refresh grant, RS256, ours (SQLite, durable) / oidc-provider (in memory), against its best round',
  refresh?.rs256.ratio,
  refresh ? vsPeer(refresh.rs256) : 'not measured',
  1.3,
  true,
);
target(
  'refresh grant, ES256 on both sides, ours / oidc-provider, against its best round',
  refresh?.es256.ratio,
  refresh ? vsPeer(refresh.es256) : 'not measured',
  2,
  true,
);

const floor = jwt && limit && refresh ? jwt.RS256 + refresh.rotationMs + limit.bareCpuMs : undefined;
target(
  'CPU per refresh (RS256, SQLite) / floor (one RS256 signature + the rotation alone + a bare node:http answer)',
  floor && refresh.rs256.oursCpuMs / floor,
  floor
    ? `**${x(refresh.rs256.oursCpuMs / floor)}** — ${ms(refresh.rs256.oursCpuMs)} / ${ms(floor)} (` +
        `${jwt.RS256.toFixed(3)} signature + ${refresh.rotationMs.toFixed(3)} rotation + ${limit.bareCpuMs.toFixed(3)} bare answer)`
    : 'not measured',
  1.3,
  false,
);
const http = limit ? Math.min(limit.throughputRatio, limit.cpuRatio) : undefined;
target(
  'trivial unguarded route / bare node:http (the lower of throughput and CPU per request)',
  http,
  limit
    ? `**${x(http)}** — throughput ${x(limit.throughputRatio)} (${Math.round(limit.routeRps)} vs ${Math.round(limit.bareRps)}/s), ` +
        `CPU per request ${x(limit.cpuRatio)} (bare ${ms(limit.bareCpuMs)} / ours ${ms(limit.routeCpuMs)})`
    : 'not measured',
  0.35,
  true,
);
const signIn = figures.signIn;
target(
  'CPU per complete returning sign-in, in RS256 signatures of this run',
  signIn && jwt ? signIn.cpuMs / jwt.RS256 : undefined,
  signIn && jwt
    ? `**${(signIn.cpuMs / jwt.RS256).toFixed(1)}** — ${ms(signIn.cpuMs)} (rounds ${rounds(signIn.cpuRounds, 2)}) / ${jwt.RS256.toFixed(3)} ms`
    : 'not measured',
  4,
  false,
);
// Nest's Express adapter, the same build, still selectable (docs/fastify-trial.md; the rows above are the default's,
// Fastify).
const onExpress = refresh?.express;
target(
  'on Express (HTTP_ADAPTER=express): refresh grant, RS256, ours / oidc-provider, against its best round',
  onExpress?.ratio,
  onExpress ? vsPeer(onExpress) : 'not measured',
  1.3,
  true,
);
target(
  'on Express: CPU per refresh (RS256, SQLite) / the same floor',
  floor && onExpress && onExpress.oursCpuMs / floor,
  floor && onExpress ? `**${x(onExpress.oursCpuMs / floor)}** — ${ms(onExpress.oursCpuMs)} / ${ms(floor)}` : 'not measured',
  1.3,
  false,
);
const signInExpress = figures.signInExpress;
target(
  'on Express: CPU per complete returning sign-in, in RS256 signatures of this run',
  signInExpress && jwt ? signInExpress.cpuMs / jwt.RS256 : undefined,
  signInExpress && jwt
    ? `**${(signInExpress.cpuMs / jwt.RS256).toFixed(1)}** — ${ms(signInExpress.cpuMs)} (rounds ${rounds(signInExpress.cpuRounds, 2)}) / ${jwt.RS256.toFixed(3)} ms`
    : 'not measured',
  4,
  false,
);
const pgf = refresh?.postgres;
target(
  'refresh grant, PostgreSQL / SQLite (median of per-round ratios)',
  pgf?.ratio,
  pgf
    ? `**${x(pgf.ratio)}** — PostgreSQL rounds ${rounds(pgf.rps)}/s, SQLite rounds ${rounds(pgf.sqliteRps)}/s`
    : 'not measured (no PostgreSQL server)',
  0.8,
  true,
);
// The scale rows carry their ratio in the last cell ("1.8× (target ≤ 2×)"); the worst of them is the one judged.
const scaleRatios = (rowsOf.scale ?? [])
  .map((r) => ({ what: r[0], ratio: /^([\d.]+)× \(target/.exec(r[r.length - 1] ?? '')?.[1] }))
  .filter((r) => r.ratio !== undefined)
  .map((r) => ({ ...r, ratio: Number(r.ratio) }));
const worst = scaleRatios.reduce((w, r) => (!w || r.ratio > w.ratio ? r : w), undefined);
const substringOne = scaleRatios.find((r) => r.what.includes('matching one'));
target(
  `${SMOKE ? '10,000' : '1,000,000'} users / 1,000 users, the worst row (every row, every run)`,
  worst?.ratio,
  worst
    ? `**${worst.ratio.toFixed(1)}×** — ${worst.what.replace(/ \(.*$/, '')}` +
        (substringOne ? `; substring matching one ${substringOne.ratio.toFixed(1)}×` : '')
    : 'not measured',
  2,
  false,
);
// bench/op-login.bench.mjs's rows (strings): the ratio is the first "N.NN×" of the row comparing ours with theirs.
const opRatioRow = (rowsOf.opLogin ?? []).find(
  (r) => /ours.*\/|\/.*(oidc-provider|theirs|peer)/i.test(r[0]) && r.slice(1).some((c) => /[\d.]+×/.test(c)),
);
const opRatio = figures.opLogin?.ratio ?? (opRatioRow ? Number(/([\d.]+)×/.exec(opRatioRow.slice(1).join(' | '))[1]) : undefined);
const opDetail = opRatioRow
  ? opRatioRow
      .slice(1)
      .join(' ')
      .replace(/^[\d.]+× ?/, '')
  : 'see its section';
target(
  'OpenID Provider authorization-code login (returning user), ours / oidc-provider, against its best round',
  opRatio,
  opRatio !== undefined
    ? `**${x(opRatio)}** — ${opDetail}`
    : opLoginBench
      ? 'no ratio found in bench/op-login.bench.mjs rows'
      : 'not measured yet (bench/op-login.bench.mjs, opLoginBench(), is run when present)',
  1.5,
  true,
);

function median(xs) {
  return [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
}

const head = 'row | measured in this run | target | met?';
let md = `# Benchmarks\n\nRun on ${m.date}: ${m.nproc} cores (${m.cpu}), Node ${m.node}. Command: \`npm run bench\`.\n`;
md += 'Shared, noisy machines: compare ratios measured in one run, not absolute numbers across runs.\n';
md += `\n## Targets (issue 20), every ratio measured in this run\n\nAgainst a peer, our median round is judged against the peer's best round. The sections below show every round.\n\n`;
md += `| ${head} |\n|${' --- |'.repeat(4)}\n`;
for (const r of targets) md += `| ${r.join(' | ')} |\n`;
md += body;

console.log('\nTargets (issue 20)');
for (const r of targets) console.log(`  ${r.join(' | ').replaceAll('**', '')}`);

if (!SMOKE) {
  const notes = existsSync('bench/NOTES.md') ? `\n${readFileSync('bench/NOTES.md', 'utf8')}` : '';
  writeFileSync('BENCHMARKS.md', md + notes);
  console.log('\nwritten to BENCHMARKS.md');
}
if (failed.length) {
  console.error(`\nfailed: ${failed.join(', ')}`);
  process.exitCode = 1;
}
