// Capacity inputs (issue 20, "Beyond one machine, on paper"): the statements the service sends to PostgreSQL per
// request, for a refresh, a complete returning sign-in and the OpenID Provider's code login of a returning user.
// Counted in the service process by bench/count-queries.cjs (every pg Client query, BEGIN/COMMIT included), in a
// fresh database; the background poll (revocation feed, key feed…) is measured idle first and subtracted.
// pg_stat_statements is installed on the test server but not in shared_preload_libraries, so it cannot count.
//   node bench/capacity-inputs.mjs        (TEST_DATABASE_URL or postgres://postgres@127.0.0.1:5432/test)
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { PG_URL, postgresDatabase, startJsonProcess } from './lib.mjs';
import { seed } from './tokens.bench.mjs';
import { signIn } from './sign-in.bench.mjs';
import { appLogin, signedInBrowsers, startOurOp, startService } from './op-login.bench.mjs';

const COUNTER = new URL('./count-queries.cjs', import.meta.url).pathname;

function counterEnv() {
  const file = join(mkdtempSync(join(tmpdir(), 'sls-count-')), 'counts.json');
  return { file, env: { NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --require ${COUNTER}`.trim(), QUERY_COUNT_FILE: file } };
}

async function counts(pid, file) {
  rmSync(file, { force: true });
  process.kill(pid, 'SIGWINCH');
  for (let i = 0; i < 50; i++) {
    await new Promise((r) => setTimeout(r, 50));
    try {
      const c = JSON.parse(readFileSync(file, 'utf8'));
      return c;
    } catch {
      /* not written yet */
    }
  }
  throw new Error('no counts');
}

const diff = (a, b) => {
  const byText = {};
  for (const [k, v] of Object.entries(b.byText)) if (v - (a.byText[k] ?? 0)) byText[k] = v - (a.byText[k] ?? 0);
  return { total: b.total - a.total, byText };
};

/**
 * Runs `n` requests of a kind between two readings, with an idle reading of the same length before it to subtract
 * the background statements (the poll runs on a timer whatever the load).
 */
async function perRequest(pid, file, n, run) {
  const idle0 = await counts(pid, file);
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, 3000));
  const idle = diff(idle0, await counts(pid, file));
  const idleRate = idle.total / ((performance.now() - t0) / 1000);
  const before = await counts(pid, file);
  const t1 = performance.now();
  await run();
  const seconds = (performance.now() - t1) / 1000;
  const during = diff(before, await counts(pid, file));
  const background = new Set(Object.keys(idle.byText));
  let own = 0;
  const kinds = {};
  for (const [text, c] of Object.entries(during.byText)) {
    if (background.has(text)) continue;
    own += c;
    const kind = /^\s*(\w+)/.exec(text)?.[1].toUpperCase() ?? '?';
    kinds[kind] = (kinds[kind] ?? 0) + c;
  }
  return {
    perRequest: own / n,
    kinds: Object.fromEntries(Object.entries(kinds).map(([k, v]) => [k, +(v / n).toFixed(2)])),
    idlePerSecond: idleRate,
    backgroundDuring: during.total - own,
    seconds,
    statements: Object.fromEntries(
      Object.entries(during.byText)
        .filter(([t]) => !background.has(t))
        .map(([t, c]) => [t, +(c / n).toFixed(2)]),
    ),
  };
}

async function refreshes(databaseUrl, n) {
  const { refreshTokens } = await seed(databaseUrl, 1);
  const { file, env } = counterEnv();
  const service = await startService({ DATABASE_URL: databaseUrl, ...env });
  try {
    let token = refreshTokens[0];
    const one = async () => {
      const res = await fetch(`${service.url}/auth/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ grant_type: 'refresh_token', refresh_token: token }),
      });
      if (res.status !== 200) throw new Error(`refresh ${res.status}`);
      token = (await res.json()).refresh_token;
    };
    for (let i = 0; i < 20; i++) await one(); // warm: caches filled
    return await perRequest(service.child.pid, file, n, async () => {
      for (let i = 0; i < n; i++) await one();
    });
  } finally {
    await service.stop();
  }
}

async function signIns(databaseUrl, n) {
  const { file, env } = counterEnv();
  // The OpenID Provider's service has the upstream stand-in wired already; its /auth/corp sign-in is the usual one.
  const ours = await startOurOp(databaseUrl, env);
  try {
    const url = new URL(ours.op.authorize).origin;
    for (let i = 0; i < 10; i++) await signIn(url, `user-${i}`); // every later sign-in is a returning one
    return await perRequest(ours.service.child.pid, file, n, async () => {
      for (let i = 0; i < n; i++) await signIn(url, `user-${i % 10}`);
    });
  } finally {
    await ours.stop();
  }
}

async function opLogins(databaseUrl, n) {
  const { file, env } = counterEnv();
  const ours = await startOurOp(databaseUrl, env);
  try {
    const [{ browser, login }] = await signedInBrowsers(ours.op, ours.signIn);
    for (let i = 0; i < 10; i++) await appLogin(ours.op, browser, login); // warm
    return await perRequest(ours.service.child.pid, file, n, async () => {
      for (let i = 0; i < n; i++) await appLogin(ours.op, browser, login);
    });
  } finally {
    await ours.stop();
  }
}

export async function capacityInputs(only) {
  const rows = [];
  for (const [what, n, run] of [
    ['refresh (POST /auth/token, rotation)', 200, refreshes],
    ['complete returning sign-in (/auth/corp/login … callback, code exchange at /auth/token)', 40, signIns],
    ['OpenID Provider code login with an SSO session (GET /oidc/auth → POST /oidc/token)', 60, opLogins],
  ]) {
    if (only && !what.startsWith(only)) continue;
    const db = await postgresDatabase();
    if (!db) return [['PostgreSQL', `skipped: no server at ${PG_URL}`]];
    try {
      const r = await run(db.url, n);
      rows.push({ what, n, ...r });
    } finally {
      await db.drop();
    }
  }
  return rows;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const rows = await capacityInputs(process.argv[2]);
  for (const r of rows) {
    console.log(
      `\n${r.what}: ${r.perRequest?.toFixed(2)} statements per request (n=${r.n}) ${JSON.stringify(r.kinds)}; background ${r.idlePerSecond?.toFixed(1)}/s idle`,
    );
    for (const [t, c] of Object.entries(r.statements ?? {})) console.log(`  ${c}  ${t}`);
  }
}
