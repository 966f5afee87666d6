// Complete sign-ins per second through a stand-in OpenID provider, and the service's own CPU time per sign-in.
import { Browser, SMOKE, cpuSeconds, freePort, median, startJsonProcess, startServiceProcess, tempDb } from './lib.mjs';

/** One complete sign-in: login redirect, the provider's form, the callback, the code exchange. */
export async function signIn(serviceUrl, login) {
  const b = new Browser();
  let r = await b.go(`${serviceUrl}/auth/corp/login`);
  r = await b.go(r.location); // provider /auth → interaction
  const interaction = r.location;
  r = await b.go(`${interaction}/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: `login=${login}`,
  });
  r = await b.go(r.location); // /auth/:uid → our callback
  r = await b.go(r.location); // our callback → returnTo?code=
  const code = new URL(r.location).searchParams.get('code');
  if (!code) throw new Error(`no code: ${r.location}`);
  const res = await fetch(`${serviceUrl}/auth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ grant_type: 'authorization_code', code }),
  });
  if (res.status !== 200) throw new Error(`token exchange ${res.status}`);
  await res.arrayBuffer();
}

/**
 * `rs256SignCpuMs`: one RS256 signature's CPU in this run (jwtBench), to express the sign-in's CPU in signatures.
 * Returns { rows, figures: { cpuMs, cpuRounds } }.
 */
export async function signInBench(rs256SignCpuMs, adapter = undefined) {
  const port = await freePort();
  const serviceUrl = `http://127.0.0.1:${port}`;
  const op = await startJsonProcess('bench/op-server.mjs', [`${serviceUrl}/auth/corp/callback`]);
  const service = await startServiceProcess(
    {
      DATABASE_URL: tempDb(),
      OIDC_PROVIDERS: 'corp',
      OIDC_CORP_ISSUER: op.url,
      OIDC_CORP_CLIENT_ID: 'bench-rp',
      OIDC_CORP_CLIENT_SECRET: 'bench-rp-secret',
      ...(adapter ? { HTTP_ADAPTER: adapter } : {}),
    },
    port,
  );
  try {
    const users = 50;
    for (let i = 0; i < users; i++) await signIn(serviceUrl, `user-${i}`); // every later sign-in is a returning one
    const runs = [];
    for (let run = 0; run < (SMOKE ? 1 : 3); run++) {
      const seconds = SMOKE ? 1 : 8;
      const cpuBefore = cpuSeconds(service.child.pid);
      const latencies = [];
      let errors = 0;
      const end = Date.now() + seconds * 1000;
      await Promise.all(
        Array.from({ length: 10 }, async (_, worker) => {
          for (let i = 0; Date.now() < end; i++) {
            const t = performance.now();
            try {
              await signIn(serviceUrl, `user-${(worker * 7 + i) % users}`);
              latencies.push(performance.now() - t);
            } catch {
              errors++;
            }
          }
        }),
      );
      const cpu = cpuSeconds(service.child.pid) - cpuBefore;
      latencies.sort((a, b) => a - b);
      runs.push({
        rate: latencies.length / seconds,
        p50: Math.round(latencies[Math.floor(latencies.length / 2)]),
        p99: Math.round(latencies[Math.floor(latencies.length * 0.99)]),
        cpuMs: (cpu * 1000) / latencies.length,
        errors,
      });
    }
    const m = runs.find((r) => r.rate === median(runs.map((x) => x.rate)));
    const cpuMs = median(runs.map((r) => r.cpuMs));
    const inSignatures = rs256SignCpuMs
      ? `; ${(cpuMs / rs256SignCpuMs).toFixed(1)} RS256 signatures of this run (${rs256SignCpuMs.toFixed(3)} ms each), target ≤ 4`
      : '';
    return {
      rows: [
        [
          `returning sign-ins through a stand-in OIDC provider (10 at once: 4 provider round trips, code exchange, ID-token check, account look-up, our tokens)${adapter ? `, on ${adapter} (HTTP_ADAPTER=${adapter})` : ''}`,
          `${m.rate.toFixed(0)}/s (runs ${runs.map((r) => r.rate.toFixed(0)).join(', ')}) | ${m.p50} ms | ${m.p99} ms | ${m.errors}`,
        ],
        [
          `service CPU time per sign-in (user + system, from /proc)${adapter ? `, on ${adapter}` : ''}`,
          `${cpuMs.toFixed(2)} ms (runs ${runs.map((r) => r.cpuMs.toFixed(2)).join(', ')}${inSignatures}) | | | `,
        ],
      ],
      figures: { cpuMs, cpuRounds: runs.map((r) => r.cpuMs) },
    };
  } finally {
    await service.stop();
    await op.stop();
  }
}
