// Complete sign-ins per second through a stand-in OpenID provider, and the service's own CPU time per sign-in.
import { SMOKE, cpuSeconds, freePort, median, startJsonProcess, startServiceProcess, tempDb } from './lib.mjs';

/** A cookie jar per host (ports ignored, as browsers do) for one simulated browser. */
class Browser {
  jar = new Map();
  async go(url, init = {}) {
    const host = new URL(url).hostname;
    const cookies = this.jar.get(host) ?? new Map();
    const headers = { ...(init.headers ?? {}), cookie: [...cookies].map(([k, v]) => `${k}=${v}`).join('; ') };
    const res = await fetch(url, { ...init, headers, redirect: 'manual' });
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(';');
      const eq = pair.indexOf('=');
      const expired = /expires=Thu, 01 Jan 1970/i.test(c) || /max-age=0/i.test(c);
      if (expired) cookies.delete(pair.slice(0, eq));
      else cookies.set(pair.slice(0, eq), pair.slice(eq + 1));
    }
    this.jar.set(host, cookies);
    await res.arrayBuffer();
    return { status: res.status, location: res.headers.get('location') ? new URL(res.headers.get('location'), url).href : undefined };
  }
}

/** One complete sign-in: login redirect, the provider's form, the callback, the code exchange. */
async function signIn(serviceUrl, login) {
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

export async function signInBench() {
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
    return [
      [
        'returning sign-ins through a stand-in OIDC provider (10 at once: 4 provider round trips, code exchange, ID-token check, account look-up, our tokens)',
        `${m.rate.toFixed(0)}/s (runs ${runs.map((r) => r.rate.toFixed(0)).join(', ')}) | ${m.p50} ms | ${m.p99} ms | ${m.errors}`,
      ],
      [
        'service CPU time per sign-in (user + system, from /proc)',
        `${median(runs.map((r) => r.cpuMs)).toFixed(2)} ms (runs ${runs.map((r) => r.cpuMs.toFixed(2)).join(', ')}; target ≤ 3 ms) | | | `,
      ],
    ];
  } finally {
    await service.stop();
    await op.stop();
  }
}
