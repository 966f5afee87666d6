// Why the certified peer (bench/peer-server.mjs: oidc-provider 9, refresh rotation, in memory) slows down round after
// round. Runs the same peer with its store made visible and, after every round of rotations, reads its heap, RSS,
// the memory adapter's grant indexes and the time V8 spent in garbage collection.
//   node bench/peer-slowdown.mjs [rounds=6] [variant=as-is|no-grant-index]   (rounds of 8 s: lib.mjs's rotationLoad)
// `no-grant-index` is a diagnostic only (it breaks reuse detection's revokeByGrantId for refresh tokens): refresh
// tokens are not added to their grant's index, to show whether that index is what costs.
//
// The server half (`node bench/peer-slowdown.mjs --server <chains> <variant>`) is peer-server.mjs's configuration,
// copied (that file is a script, not a module), with one change: its MemoryAdapter gets a store we hold, exactly what
// oidc-provider's own default does (`createMemoryAdapter`: `new MemoryAdapter(model, store, clockTolerance=0)`,
// the same LRU of 1,000), so `/__stats` can look into it.
import { generateKeyPairSync } from 'node:crypto';
import { createServer } from 'node:http';
import { PerformanceObserver, constants as perf } from 'node:perf_hooks';
import { cpuSeconds, rotationLoad, rssMiB, startJsonProcess } from './lib.mjs';

if (process.argv[2] === '--server') await server(Number(process.argv[3] ?? 10), process.argv[4] ?? 'as-is');
else if (process.argv[2] === '--adapter') await adapterAlone();
else await main();

/**
 * The memory adapter alone, no HTTP: what one refresh token's upsert costs as its grant's index grows (each rotation
 * adds the new token's key; the consumed ones stay indexed until their own expiry, 1 day here), and where
 * `Math.max(...members.values())` runs out of stack.
 */
async function adapterAlone() {
  const { default: MemoryAdapter } = await import('oidc-provider/lib/adapters/memory_adapter.js');
  const { default: LRU } = await import('oidc-provider/lib/helpers/lru.js');
  const store = new LRU({ maxSize: 1000 });
  const adapter = new MemoryAdapter('RefreshToken', store, 0);
  const grantId = 'g1';
  let n = 0;
  const key = () => `RefreshToken:${String(n++).padStart(43, 'x')}`;
  const upsert = () => adapter.upsert(key().slice(13), { grantId, kind: 'RefreshToken' }, 86_400);
  // The index as `size` rotations leave it (what `size` upserts would build, built directly: cheaper here).
  const grow = (size) => {
    const members = store.get(`grant:${grantId}`) ?? new Map();
    const expiresAt = Date.now() + 86_400_000;
    while (members.size < size) members.set(key(), expiresAt);
    store.set(`grant:${grantId}`, members, { maxAge: 86_400_000 });
  };
  for (let i = 0; i < 2000; i++) await upsert(); // JIT warm-up (index ~2,000, then reset)
  store.delete(`grant:${grantId}`);
  console.log('grant index size | CPU µs per refresh-token upsert (mean of 200)');
  for (const size of [1, 1_000, 2_000, 5_000, 10_000, 20_000, 50_000, 100_000, 125_000, 150_000, 200_000]) {
    grow(size);
    const before = process.cpuUsage();
    try {
      for (let i = 0; i < 200; i++) await upsert();
    } catch (e) {
      console.log(`${size.toLocaleString('en-US')} | fails: ${e.constructor.name}: ${e.message}`);
      break;
    }
    const used = process.cpuUsage(before);
    console.log(`${size.toLocaleString('en-US')} | ${((used.user + used.system) / 200).toFixed(1)}`);
  }
}

async function server(chains, variant) {
  const { default: Provider } = await import('oidc-provider');
  const { default: MemoryAdapter } = await import('oidc-provider/lib/adapters/memory_adapter.js');
  const { default: LRU } = await import('oidc-provider/lib/helpers/lru.js');
  const store = new LRU({ maxSize: 1000 });
  const grantIds = [];
  const latest = new Map(); // grant id → its newest refresh token: each chain's current one
  class Adapter extends MemoryAdapter {
    async upsert(id, payload, expiresIn) {
      if (this.model === 'RefreshToken') latest.set(payload.grantId, id);
      if (variant === 'no-grant-index' && this.model === 'RefreshToken') {
        const { grantId: _, ...rest } = payload;
        await super.upsert(id, rest, expiresIn);
        this.storage.get(this.key(id)).grantId = payload.grantId; // the token keeps it; only the index misses it
        return;
      }
      return super.upsert(id, payload, expiresIn);
    }
  }

  let gcMs = 0;
  let gcCount = 0;
  const gcByKind = {};
  const kinds = {
    [perf.NODE_PERFORMANCE_GC_MINOR]: 'scavenge',
    [perf.NODE_PERFORMANCE_GC_MAJOR]: 'mark-sweep',
    [perf.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental',
    [perf.NODE_PERFORMANCE_GC_WEAKCB]: 'weak',
  };
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      gcMs += e.duration;
      gcCount++;
      const k = kinds[e.detail?.kind] ?? 'other';
      gcByKind[k] = (gcByKind[k] ?? 0) + e.duration;
    }
  }).observe({ entryTypes: ['gc'] });

  const srv = createServer();
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${srv.address().port}`;
  const resource = 'urn:bench:api';
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const provider = new Provider(url, {
    adapter: (model) => new Adapter(model, store, 0),
    clients: [
      {
        client_id: 'bench',
        client_secret: 'bench-secret',
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        redirect_uris: ['http://127.0.0.1/cb'],
        token_endpoint_auth_method: 'client_secret_post',
      },
    ],
    jwks: { keys: [{ ...privateKey.export({ format: 'jwk' }), kid: 'peer', alg: 'RS256', use: 'sig' }] },
    cookies: { keys: ['bench-cookie-key-0123456789'] },
    features: {
      devInteractions: { enabled: false },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => resource,
        useGrantedResource: () => true,
        getResourceServerInfo: () => ({ scope: 'api', audience: resource, accessTokenFormat: 'jwt', jwt: { sign: { alg: 'RS256' } } }),
      },
    },
    rotateRefreshToken: true,
    issueRefreshToken: () => true,
    ttl: { AccessToken: 900, RefreshToken: 86_400, Grant: 86_400, Session: 3600, Interaction: 600, IdToken: 600, AuthorizationCode: 60 },
    findAccount: (_ctx, sub) => ({ accountId: sub, claims: () => ({ sub }) }),
  });
  provider.on('server_error', (_ctx, e) => console.error(e));
  const callback = provider.callback();
  srv.on('request', (req, res) => {
    if (req.url === '/__tokens') {
      // The chains' current tokens: autocannon drops the responses in flight when a round ends, so the successor of
      // each chain's last token was issued and stored but never seen. Each grant's newest refresh token.
      const tokens = grantIds.map((g) => latest.get(g)).filter((t) => !store.get(`RefreshToken:${t}`)?.consumed);
      res.setHeader('content-type', 'application/json');
      return res.end(JSON.stringify(tokens));
    }
    if (req.url !== '/__stats') return callback(req, res);
    // What the store holds for the chains: each grant's index (grant:<id> → Map of token keys), and how many of the
    // indexed refresh tokens are still in the LRU, consumed or not.
    let indexed = 0;
    let live = 0;
    let consumed = 0;
    for (const g of grantIds) {
      const members = store.get(`grant:${g}`);
      if (!members) continue;
      indexed += members.size;
      for (const key of members.keys()) {
        const p = store.get(key);
        if (p) {
          live++;
          if (p.consumed) consumed++;
        }
      }
    }
    const m = process.memoryUsage();
    res.setHeader('content-type', 'application/json');
    res.end(
      JSON.stringify({
        heapUsedMiB: m.heapUsed / 2 ** 20,
        rssMiB: m.rss / 2 ** 20,
        grantIndexPerChain: indexed / grantIds.length,
        inStore: live,
        consumedInStore: consumed,
        gcMs,
        gcCount,
        gcByKind,
      }),
    );
  });

  const client = await provider.Client.find('bench');
  const refreshTokens = [];
  for (let i = 0; i < chains; i++) {
    const grant = new provider.Grant({ accountId: `user-${i}`, clientId: 'bench' });
    grant.addOIDCScope('offline_access');
    grant.addResourceScope(resource, 'api');
    const grantId = await grant.save();
    grantIds.push(grantId);
    const token = new provider.RefreshToken({
      accountId: `user-${i}`,
      client,
      grantId,
      gty: 'authorization_code',
      scope: 'offline_access',
      resource,
      authTime: Math.floor(Date.now() / 1000),
      iiat: Math.floor(Date.now() / 1000),
      rotations: 0,
    });
    refreshTokens.push(await token.save());
  }
  process.stdout.write(`${JSON.stringify({ url, refreshTokens })}\n`);
}

async function main() {
  const rounds = Number(process.argv[2] ?? 6);
  const variant = process.argv[3] ?? 'as-is';
  const peer = await startJsonProcess('bench/peer-slowdown.mjs', ['--server', 10, variant]);
  const stats = async () => (await fetch(`${peer.url}/__stats`)).json();
  try {
    let total = 0;
    let before = await stats();
    console.log(`variant ${variant}, 10 chains, 8 s rounds`);
    console.log(
      'round | rotations so far | req/s | CPU ms/req | heap used MiB | RSS MiB | grant index entries per chain | tokens in store (consumed) | GC ms in round (count) | GC ms per 1,000 req',
    );
    for (let i = 1; i <= rounds; i++) {
      await new Promise((r) => setTimeout(r, 1000)); // the requests cut off at the round's end finish first
      const tokens = await (await fetch(`${peer.url}/__tokens`)).json();
      const cpu0 = cpuSeconds(peer.child.pid);
      const r = await rotationLoad({
        url: peer.url,
        path: '/token',
        tokens,
        form: { client_id: 'bench', client_secret: 'bench-secret' },
      });
      const cpuMs = ((cpuSeconds(peer.child.pid) - cpu0) * 1000) / Math.max(1, r.total);
      total += r.total;
      const s = await stats();
      const gc = s.gcMs - before.gcMs;
      console.log(
        [
          i,
          total,
          Math.round(r.rps),
          cpuMs.toFixed(2),
          s.heapUsedMiB.toFixed(1),
          rssMiB(peer.child.pid),
          Math.round(s.grantIndexPerChain),
          `${s.inStore} (${s.consumedInStore})`,
          `${gc.toFixed(0)} (${s.gcCount - before.gcCount})`,
          ((gc * 1000) / Math.max(1, r.total)).toFixed(1),
          r.errors ? `errors ${r.errors}` : '',
        ].join(' | '),
      );
      before = s;
    }
  } finally {
    await peer.stop();
  }
}
