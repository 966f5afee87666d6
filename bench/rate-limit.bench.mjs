// CPU per rate-limit hit, in-process: our RateLimiter (dist/) against rate-limiter-flexible set up as commit 7693379
// switched to it (issue 16 §6) — RateLimiterMemory, or RateLimiterRedis with it as insuranceLimiter and every Redis call
// through SharedRedis.run — in the same run, interleaved.
//   npm run build && node --expose-gc bench/rate-limit.bench.mjs [--smoke]
// Redis: TEST_REDIS_URL or 127.0.0.1:6379 (the keys it writes are removed at the end). Each figure: the median of 5
// rounds of process CPU (user + system, all threads) over the number of hits; what is called is what the guard calls.
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import { RateLimiter } from '../dist/rate-limit/rate-limiter.service.js';
import { SharedRedis } from '../dist/redis/shared-redis.js';

const SMOKE = process.argv.includes('--smoke');
const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** Ours: `hit('<kind>:<ip>', perMinute)`, as RateLimitGuard calls it. */
function ours(limits, redis) {
  const limiter = new RateLimiter({ rateLimits: true, rateLimitPerMinute: limits, redisKeyPrefix: redis?.prefix ?? '' }, redis?.shared);
  return (kind, ip) => limiter.hit(`${kind}:${ip}`, limits[kind]);
}

/** The library, as commit 7693379's RateLimiter and BreakerBoundRedis used it. */
function library(limits, redis) {
  const store = redis && breakerBound(redis.shared);
  const limiters = {};
  for (const kind of Object.keys(limits)) {
    const opts = { points: limits[kind], duration: 60, blockDuration: 60, keyPrefix: `${redis?.prefix ?? ''}ratelimit:${kind}` };
    const memory = new RateLimiterMemory(opts);
    limiters[kind] = store ? new RateLimiterRedis({ ...opts, storeClient: store, insuranceLimiter: memory }) : memory;
  }
  return async (kind, ip) => {
    try {
      await limiters[kind].consume(ip);
      return { blocked: false, retryAfterMs: 0 };
    } catch (e) {
      if (!(e instanceof RateLimiterRes)) throw e;
      return { blocked: true, retryAfterMs: e.msBeforeNext };
    }
  };
}

/** The calls RateLimiterRedis makes on its storeClient, each through SharedRedis.run (timeout and circuit breaker). */
function breakerBound(shared) {
  let script = '';
  const multi = () => {
    const queued = [];
    const m = {
      set: (...a) => (queued.push((x) => x.set(...a)), m),
      get: (k) => (queued.push((x) => x.get(k)), m),
      pttl: (k) => (queued.push((x) => x.pttl(k)), m),
      exec: () => shared.run((r) => queued.reduce((x, add) => add(x), r.multi()).exec()),
    };
    return m;
  };
  return {
    defineCommand: (_name, { lua }) => void (script = lua),
    rlflxIncr: ([key, ...args]) => shared.run((r) => r.eval(script, 1, key, ...args)),
    multi,
    del: (key) => shared.run((r) => r.del(key)),
  };
}

const open = [];
async function redisStore() {
  const client = new Redis(REDIS_URL, { commandTimeout: 300, maxRetriesPerRequest: 1, enableOfflineQueue: false });
  open.push(client);
  // Connected first: SharedRedis sends nothing before, and every hit would be counted in memory instead.
  await new Promise((ready) => client.once('ready', ready));
  return { shared: new SharedRedis(client, 3000), prefix: `bench-${randomBytes(6).toString('hex')}:` };
}

/** CPU microseconds per hit of `n` sequential hits from `ips(i)`, after `before` hits not measured; and how many were refused. */
async function measure(hit, n, ips, before) {
  for (let i = 0; i < before; i++) await hit('token', `before-${i}`);
  let refused = 0;
  const start = process.cpuUsage();
  for (let i = 0; i < n; i++) if ((await hit('token', ips(i))).blocked) refused++;
  const cpu = process.cpuUsage(start);
  return { us: (cpu.user + cpu.system) / n, refused };
}

const ip = (i) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
const scenarios = [
  // [name, store, limit per minute, hits measured, which IP, hits before (warm-up or filling)]
  ['memory: one client under its limit', 'memory', 1e9, 200_000, () => '192.0.2.1', 2000],
  ['memory: 10,000 clients in turn, under the limit', 'memory', 1e9, 200_000, (i) => ip(i % 10_000), 2000],
  ['memory: a new client every hit', 'memory', 1e9, 90_000, (i) => ip(i), 2000],
  ['memory: one client over its limit (refused)', 'memory', 10, 200_000, () => '192.0.2.1', 2000],
  ['memory: a new client every hit, past 100,000 live keys', 'memory', 1e9, 2_000, (i) => ip(i), 100_001],
  ['Redis: one client under its limit', 'redis', 1e9, 10_000, () => '192.0.2.1', 500],
  ['Redis: 1,000 clients in turn, under the limit', 'redis', 1e9, 10_000, (i) => ip(i % 1000), 500],
  ['Redis: one client over its limit (refused)', 'redis', 10, 10_000, () => '192.0.2.1', 500],
];

const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const rounds = SMOKE ? 1 : 5;
const builds = { ours, library };
console.log(`${process.version}, ${rounds} rounds; CPU µs per hit (median): ours → rate-limiter-flexible (ratio)`);
for (const [name, store, limit, hits, ips, before] of scenarios) {
  const n = SMOKE ? Math.ceil(hits / 20) : hits;
  const limits = { signIn: limit, token: limit, admin: limit, clientAuthFailures: limit };
  const us = { ours: [], library: [] };
  const refused = {};
  for (let r = 0; r < rounds; r++)
    for (const which of r % 2 ? ['library', 'ours'] : ['ours', 'library']) {
      // A fresh limiter (and fresh Redis keys) per round: every round starts from the same state.
      const hit = builds[which](limits, store === 'redis' ? await redisStore() : undefined);
      const m = await measure(hit, n, ips, before);
      us[which].push(m.us);
      refused[which] = m.refused;
      globalThis.gc?.();
    }
  const [o, l] = [median(us.ours), median(us.library)];
  console.log(
    `${name}: ${o.toFixed(2)} → ${l.toFixed(2)} µs (${(l / o).toFixed(2)}×); refused ${refused.ours} / ${refused.library} of ${n}`,
  );
}

// Leave nothing behind in the shared Redis, and prove the Redis rows counted there, not in the memory fallback.
const cleaner = new Redis(REDIS_URL);
for (const c of open) c.disconnect();
let removed = 0;
let cursor = '0';
do {
  const [next, keys] = await cleaner.scan(cursor, 'MATCH', 'bench-*ratelimit:*', 'COUNT', 1000);
  cursor = next;
  if (keys.length) removed += await cleaner.del(...keys);
} while (cursor !== '0');
cleaner.disconnect();
console.log(`removed ${removed} bench keys from Redis`);
if (!removed) throw new Error('no bench keys in Redis: the Redis rows measured the memory fallback');
