// Shared helpers for the benchmarks: run the built service as a child process, drive autocannon, report medians.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:net';
import autocannon from 'autocannon';
import { createApp } from '../dist/bootstrap.js';
import { loadConfig } from '../dist/config/config.js';

const APP_SECRET = 'bench-app-secret-0123456789abcdefghijklmnopqrstuvwxyz';
export const SMOKE = process.argv.includes('--smoke');

export function machine() {
  return {
    date: new Date().toISOString().slice(0, 10),
    nproc: cpus().length,
    cpu: (readFileSync('/proc/cpuinfo', 'utf8').match(/model name\s*:\s*(.*)/) ?? [])[1] ?? cpus()[0]?.model ?? 'unknown',
    node: process.version,
  };
}

/** The built service as an app in this process, silent (seeding, in-process measurements); migrations run first. */
export function inProcessApp(databaseUrl) {
  const config = loadConfig({ DATABASE_URL: databaseUrl, APP_SECRET, DEMO_IDP: 'false', PUBLIC_URL: 'http://bench.invalid' });
  return createApp({ ...config, appSecret: APP_SECRET }, { logger: false });
}

export function tempDb() {
  return `sqlite:${join(mkdtempSync(join(tmpdir(), 'sls-bench-')), 'app.db')}`;
}

export async function freePort() {
  const srv = createServer();
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address();
  await new Promise((r) => srv.close(r));
  return port;
}

/** Starts `node dist/main.js` on 127.0.0.1 and waits until /health answers. */
export async function startServiceProcess(env, port) {
  port ??= await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(
    process.execPath,
    [
      ...(process.env.BENCH_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE}`] : []),
      (process.env.BENCH_DIST ?? 'dist') + '/main.js',
    ],
    {
      env: {
        ...process.env,
        NODE_ENV: 'production',
        APP_SECRET,
        PORT: String(port),
        PUBLIC_URL: url,
        DEMO_IDP: 'false',
        RATE_LIMITS: 'off',
        ...env,
      },
      stdio: ['ignore', 'ignore', 'inherit'],
    },
  );
  for (let i = 0; i < 200; i++) {
    try {
      if ((await fetch(`${url}/health`)).ok) return { url, child, stop: () => stop(child) };
    } catch {
      /* not up yet */
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  child.kill();
  throw new Error('service did not start');
}

function stop(child) {
  return new Promise((resolve) => {
    child.once('exit', resolve);
    child.kill('SIGTERM');
  });
}

/** One autocannon run; the figures we report. */
export async function load(opts) {
  const result = await autocannon({ connections: 10, duration: SMOKE ? 1 : 8, ...opts });
  return {
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors + result.timeouts + result.non2xx,
    total: result.requests.total,
  };
}

export const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Runs `fn` RUNS times (3, or 1 when smoking) and returns the run with the median throughput, plus all rates. */
export async function medianOf(fn) {
  const runs = [];
  for (let i = 0; i < (SMOKE ? 1 : 3); i++) runs.push(await fn(i));
  const m = median(runs.map((r) => r.rps));
  return { ...runs.find((r) => r.rps === m), runs: runs.map((r) => Math.round(r.rps)) };
}

export const fmt = (r) =>
  `${Math.round(r.rps).toLocaleString('en-US')}/s (runs ${r.runs.join(', ')}) | ${r.p50} ms | ${r.p99} ms | ${r.errors}`;

/** Starts `node <script> …args` and resolves with the JSON object it prints on its first stdout line. */
export function startJsonProcess(script, args = [], env = {}) {
  const child = spawn(process.execPath, [script, ...args.map(String)], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  return new Promise((resolve, reject) => {
    let buffer = '';
    child.stdout.on('data', (chunk) => {
      buffer += chunk;
      const nl = buffer.indexOf('\n');
      if (nl >= 0) resolve({ ...JSON.parse(buffer.slice(0, nl)), child, stop: () => stop(child) });
    });
    child.once('exit', (code) => reject(new Error(`${script} exited with ${code}`)));
  });
}

/** CPU seconds (user + system) a process has used so far, from /proc (Linux); `thread` = its main thread only. */
export function cpuSeconds(pid, thread = false) {
  const fields = readFileSync(thread ? `/proc/${pid}/task/${pid}/stat` : `/proc/${pid}/stat`, 'utf8')
    .split(') ')[1]
    .split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** Resident memory of a process in MiB, from /proc (Linux). */
export function rssMiB(pid) {
  const kb = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  return kb ? Math.round(Number(kb) / 1024) : undefined;
}

/** One autocannon run that rotates refresh-token chains: each response's successor goes back into the pool. */
export function rotationLoad({ url, path, tokens, form }) {
  return load({
    url: `${url}${path}`,
    connections: tokens.length,
    requests: [
      {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        // autocannon resets `context` after every pass through `requests`, so the chains live in a shared pool.
        setupRequest: (req) => ({
          ...req,
          body: new URLSearchParams({ ...form, grant_type: 'refresh_token', refresh_token: tokens.shift() }).toString(),
        }),
        onResponse: (status, body) => {
          if (status === 200) tokens.push(JSON.parse(body).refresh_token);
        },
      },
    ],
  });
}
