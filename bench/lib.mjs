// Shared helpers for the benchmarks: run the built service as a child process, drive autocannon, report medians.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:net';
import autocannon from 'autocannon';
import pg from 'pg';
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
  // Up to a minute: on a 2-core machine shared with other work, Nest's start-up alone has taken over 10 s.
  let exited;
  child.once('exit', (code) => (exited = code ?? 'a signal'));
  for (const end = Date.now() + 60_000; Date.now() < end && exited === undefined;) {
    try {
      if ((await fetch(`${url}/health`)).ok) return { url, child, stop: () => stop(child) };
    } catch {
      /* not up yet */
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  child.kill();
  throw new Error(exited === undefined ? 'service did not start within 60 s' : `service exited with ${exited} before it answered`);
}

function stop(child) {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
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

/** Figures of several rounds as one cell: "a, b, c" (rates rounded; others to `digits`). */
export const rounds = (xs, digits = 0) => xs.map((x) => (digits ? x.toFixed(digits) : Math.round(x).toLocaleString('en-US'))).join(', ');

/** The claims of a JWT's header, unverified (to check which algorithm a server signed with). */
export const jwtHeader = (jwt) => JSON.parse(Buffer.from(String(jwt).split('.')[0], 'base64url').toString());

/**
 * One refresh through a token endpoint before a load: checks that the access token is signed with `alg` (so a
 * comparison is of like with like) and puts the rotated refresh token back into the pool.
 */
export async function probeRefresh({ url, path, tokens, form, alg }) {
  const res = await fetch(`${url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ ...form, grant_type: 'refresh_token', refresh_token: tokens.shift() }).toString(),
  });
  const body = await res.json();
  if (res.status !== 200) throw new Error(`${url}${path}: refresh answered ${res.status} ${JSON.stringify(body)}`);
  const signed = jwtHeader(body.access_token).alg;
  if (signed !== alg) throw new Error(`${url}${path}: access token signed ${signed}, expected ${alg}`);
  tokens.push(body.refresh_token);
}

export const PG_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** A fresh database on the server, or undefined when there is none. */
export async function postgresDatabase() {
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

/** A browser's cookie jar, per host:port (both OPs here are oidc-provider, whose cookie names would collide). */
export class Browser {
  jar = new Map();
  async go(url, init = {}) {
    const host = new URL(url).host;
    const cookies = this.jar.get(host) ?? new Map();
    const headers = { ...(init.headers ?? {}) };
    if (cookies.size) headers.cookie = [...cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    const res = await fetch(url, { ...init, headers, redirect: 'manual' });
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(';');
      const eq = pair.indexOf('=');
      const expired = /expires=Thu, 01 Jan 1970/i.test(c) || /max-age=0/i.test(c);
      if (expired) cookies.delete(pair.slice(0, eq));
      else cookies.set(pair.slice(0, eq), pair.slice(eq + 1));
    }
    this.jar.set(host, cookies);
    const body = await res.text();
    const location = res.headers.get('location');
    return { status: res.status, url, body, location: location ? new URL(location, url).href : undefined };
  }
}
