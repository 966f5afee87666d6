// A returning user's login at an app through an OpenID Provider (issue 20's last row): the browser already has an SSO
// session, so GET authorize → redirect with a code → POST token (client_secret_basic, PKCE S256) → ID token, access
// token, refresh token. Ours (OPENID_PROVIDER=true, a first-party client registered with the CLI, the SSO session
// made once through a stand-in upstream provider and our sign-in page) against oidc-provider 9 standalone configured
// the same way (bench/op-peer-server.mjs). Each server in its own process; CPU per login from /proc; the ratio is
// judged against the peer's best round, so that its slowdown over rounds cannot flatter us.
// Alone: `node bench/op-login.bench.mjs [--smoke]` (after `npm run build`).
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { Browser as LibBrowser, SMOKE, cpuSeconds, freePort, median, startJsonProcess, startServiceProcess, tempDb } from './lib.mjs';

const APP_SECRET = 'bench-app-secret-0123456789abcdefghijklmnopqrstuvwxyz'; // lib.mjs's, for the CLI
const REDIRECT = 'http://127.0.0.1:9/app/callback'; // nothing listens: the browser stops there
const ROUNDS = SMOKE ? 1 : 3;
const SECONDS = SMOKE ? 1 : 8;
const BROWSERS = 10;

/** lib.mjs's browser (a cookie jar per host:port), able to follow redirects up to the app's redirect URI. */
export class Browser extends LibBrowser {
  /** Follows redirects until the app's redirect URI (returned, not requested) or a page that is not a redirect. */
  async follow(url, init) {
    let r = await this.go(url, init);
    let hops = 1;
    while (r.location && !r.location.startsWith(REDIRECT)) {
      r = await this.go(r.location);
      hops++;
    }
    return { ...r, hops };
  }
}

function pkce() {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

/**
 * One login at the app: authorize (the SSO session answers at once) → code → token. `signIn(browser, page)` is called
 * when the OP shows a page instead (the first login only). Returns the token response and the requests it took.
 */
export async function appLogin(op, browser, login, signIn) {
  const { verifier, challenge } = pkce();
  const state = randomBytes(12).toString('base64url');
  const q = new URLSearchParams({
    client_id: op.clientId,
    response_type: 'code',
    redirect_uri: REDIRECT,
    scope: 'openid',
    state,
    nonce: randomBytes(12).toString('base64url'),
    code_challenge: challenge,
    code_challenge_method: 'S256',
    login_hint: login,
  });
  let r = await browser.follow(`${op.authorize}?${q}`);
  let hops = r.hops;
  if (!r.location && signIn) {
    r = await signIn(browser, r, login);
    hops += r.hops;
  }
  if (!r.location) throw new Error(`no redirect to the app: ${r.status} ${r.url} ${r.body.slice(0, 200)}`);
  const back = new URL(r.location).searchParams;
  if (back.get('state') !== state || !back.get('code')) throw new Error(`no code: ${r.location}`);
  const res = await fetch(op.token, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: `Basic ${Buffer.from(`${encodeURIComponent(op.clientId)}:${encodeURIComponent(op.clientSecret)}`).toString('base64')}`,
    },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      code: back.get('code'),
      redirect_uri: REDIRECT,
      code_verifier: verifier,
    }),
  });
  const body = await res.json();
  if (res.status !== 200 || !body.id_token) throw new Error(`token ${res.status} ${JSON.stringify(body)}`);
  return { tokens: body, requests: hops + 1 };
}

/** Our sign-in page → the stand-in upstream provider's form → back through our callback to the app. */
async function throughUpstream(browser, page, login) {
  const button = /href="(\/interaction\/[^"]+\/login\/corp)"/.exec(page.body);
  if (!button) throw new Error(`no sign-in page: ${page.status} ${page.url} ${page.body.slice(0, 200)}`);
  const atProvider = await browser.follow(new URL(button[1], page.url).href); // → the provider's interaction page
  const form = await browser.go(`${atProvider.url}/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: `login=${login}`,
  });
  const r = await browser.follow(form.location);
  return { ...r, hops: atProvider.hops + 1 + r.hops };
}

/** The service as lib.mjs starts it (it waits up to 60 s for a start: the OP makes start-up slower). */
export const startService = (env, port) => startServiceProcess(env, port);

/** `node dist/cli.js …` with the service's environment; resolves with its stdout. */
export function cli(args, env) {
  const child = spawn(process.execPath, [`${process.env.BENCH_DIST ?? 'dist'}/cli.js`, ...args], {
    env: { ...process.env, NODE_ENV: 'production', APP_SECRET, DEMO_IDP: 'false', ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.on('data', (c) => (out += c));
  return new Promise((resolve, reject) =>
    child.once('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`cli ${args[0]} exited with ${code}`)))),
  );
}

/** Our service as an OpenID Provider, a first-party client registered, one SSO session per browser made. */
export async function startOurOp(databaseUrl, extraEnv = {}) {
  const port = await freePort();
  const serviceUrl = `http://127.0.0.1:${port}`;
  const upstream = await startJsonProcess('bench/op-server.mjs', [`${serviceUrl}/auth/corp/callback`]);
  const env = {
    DATABASE_URL: databaseUrl,
    PUBLIC_URL: serviceUrl,
    OPENID_PROVIDER: 'true',
    OIDC_PROVIDERS: 'corp',
    OIDC_CORP_ISSUER: upstream.url,
    OIDC_CORP_CLIENT_ID: 'bench-rp',
    OIDC_CORP_CLIENT_SECRET: 'bench-rp-secret',
    ...extraEnv,
  };
  const service = await startService(env, port).catch(async (e) => {
    await upstream.stop();
    throw e;
  });
  try {
    const out = await cli(['clients:create', 'Bench app', '--redirect-uri', REDIRECT, '--first-party'], env);
    const op = {
      clientId: /client_id: (\S+)/.exec(out)[1],
      clientSecret: /client_secret: (\S+)/.exec(out)[1],
      authorize: `${serviceUrl}/oidc/auth`,
      token: `${serviceUrl}/oidc/token`,
    };
    return {
      op,
      service,
      env,
      signIn: throughUpstream,
      stop: async () => {
        await service.stop();
        await upstream.stop();
      },
    };
  } catch (e) {
    await service.stop();
    await upstream.stop();
    throw e;
  }
}

async function startPeerOp() {
  const peer = await startJsonProcess('bench/op-peer-server.mjs', [REDIRECT]);
  return {
    op: { clientId: peer.client_id, clientSecret: peer.client_secret, authorize: `${peer.url}/auth`, token: `${peer.url}/token` },
    pid: peer.child.pid,
    stop: peer.stop,
  };
}

/** BROWSERS browsers, each signed in once (its SSO session), user-0 … user-9. */
export async function signedInBrowsers(op, signIn) {
  const browsers = [];
  for (let i = 0; i < BROWSERS; i++) {
    const b = new Browser();
    const first = await appLogin(op, b, `user-${i}`, signIn);
    browsers.push({ browser: b, login: `user-${i}`, first });
  }
  return browsers;
}

/** One round: every browser logs in again and again for SECONDS; rate, latencies and the server's CPU per login. */
export async function round(op, pid, browsers, seconds = SECONDS) {
  const cpuBefore = cpuSeconds(pid);
  const latencies = [];
  let errors = 0;
  let requests = 0;
  const started = performance.now();
  const end = Date.now() + seconds * 1000;
  await Promise.all(
    browsers.map(async ({ browser, login }) => {
      while (Date.now() < end) {
        const t = performance.now();
        try {
          const n = (await appLogin(op, browser, login)).requests;
          requests += n;
          latencies.push(performance.now() - t);
        } catch (e) {
          if (errors++ === 0) console.error(e.message);
        }
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  const cpu = cpuSeconds(pid) - cpuBefore;
  latencies.sort((a, b) => a - b);
  return {
    rate: latencies.length / elapsed,
    p50: Math.round(latencies[Math.floor(latencies.length / 2)] ?? 0),
    p99: Math.round(latencies[Math.floor(latencies.length * 0.99)] ?? 0),
    cpuMs: (cpu * 1000) / Math.max(1, latencies.length),
    requestsPerLogin: requests / Math.max(1, latencies.length),
    errors,
    logins: latencies.length,
  };
}

const decode = (jwt) => JSON.parse(Buffer.from(jwt.split('.')[0], 'base64url'));
/** What one login issued: the same three tokens on both sides, or the comparison is off. */
function shape(tokens) {
  return `ID token ${decode(tokens.id_token).alg}, access token ${decode(tokens.access_token).typ ?? 'JWT'} ${decode(tokens.access_token).alg}, refresh token ${tokens.refresh_token ? 'yes' : 'no'}`;
}

export async function opLoginBench() {
  const ours = await startOurOp(tempDb());
  const peer = await startPeerOp();
  try {
    const ourBrowsers = await signedInBrowsers(ours.op, ours.signIn);
    const peerBrowsers = await signedInBrowsers(peer.op, undefined);
    const ourShape = shape((await appLogin(ours.op, ourBrowsers[0].browser, 'user-0')).tokens);
    const peerShape = shape((await appLogin(peer.op, peerBrowsers[0].browser, 'user-0')).tokens);
    // Warm-up, not counted: both JITs settled before the first round.
    await round(ours.op, ours.service.child.pid, ourBrowsers, SMOKE ? 1 : 3);
    await round(peer.op, peer.pid, peerBrowsers, SMOKE ? 1 : 3);
    const a = [];
    const b = [];
    for (let i = 0; i < ROUNDS; i++) {
      a.push(await round(ours.op, ours.service.child.pid, ourBrowsers));
      b.push(await round(peer.op, peer.pid, peerBrowsers));
    }
    const fmtRound = (rs) => rs.map((r) => r.rate.toFixed(0)).join(' → ');
    const mid = (rs) => rs.find((r) => r.rate === median(rs.map((x) => x.rate)));
    const best = (rs) => rs.reduce((x, y) => (y.rate > x.rate ? y : x));
    const line = (rs) =>
      `${mid(rs).rate.toFixed(0)}/s (rounds ${fmtRound(rs)}) | ${mid(rs).p50} ms | ${mid(rs).p99} ms | ${rs.reduce((s, r) => s + r.errors, 0)} | ` +
      `${median(rs.map((r) => r.cpuMs)).toFixed(2)} ms (rounds ${rs.map((r) => r.cpuMs.toFixed(2)).join(', ')}) | ${mid(rs).requestsPerLogin.toFixed(1)}`;
    const oursMid = mid(a);
    const theirsBest = best(b);
    const theirsLeastCpu = Math.min(...b.map((r) => r.cpuMs));
    return [
      [`ours, SQLite (OPENID_PROVIDER=true, first-party client from the CLI; ${ourShape})`, line(a)],
      [`oidc-provider 9 standalone, in memory (implied grant, ${peerShape})`, line(b)],
      [
        'ours / oidc-provider, against its best round (target ≥ 1.5×)',
        `${(oursMid.rate / theirsBest.rate).toFixed(2)}× throughput (our median ${oursMid.rate.toFixed(0)} / their best ${theirsBest.rate.toFixed(0)}); ` +
          `CPU per login theirs / ours ${(theirsLeastCpu / median(a.map((r) => r.cpuMs))).toFixed(2)}× (their least ${theirsLeastCpu.toFixed(2)} ms / our median ${median(a.map((r) => r.cpuMs)).toFixed(2)} ms)`,
      ],
    ];
  } finally {
    await ours.stop();
    await peer.stop();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const r of await opLoginBench()) console.log(r.join(' | '));
}
