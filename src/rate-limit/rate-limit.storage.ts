import { RedisUnavailable, type SharedRedis } from '../redis/shared-redis.js';

export interface HitCount {
  /** Over the limit: refused until `retryAfterMs` has passed. */
  blocked: boolean;
  retryAfterMs: number;
}

/** Fixed one-window counters per key; a client over the limit is blocked for `blockMs`. */
export interface RateLimitStorage {
  hit(key: string, windowMs: number, limit: number, blockMs: number): Promise<HitCount>;
  /** Milliseconds the key is still blocked for (0: not blocked), without counting a hit. */
  blockedFor(key: string): Promise<number>;
}

/** Above this many keys, those expired are swept out, at most once every SWEEP_EVERY_MS. */
const SWEEP_ABOVE = 100_000;
/**
 * A sweep walks every key (about 3.6 ms at 100,000 here), and while more clients than that are live within a window
 * there is nothing to sweep: sweeping on every hit, as this did, cost every request those milliseconds for as long as
 * a minute — an amplifier for anyone with enough addresses (an IPv6 range). bench/rate-limit.bench.mjs, "past 100,000
 * live keys", CPU per hit: 3,647 µs sweeping on every hit, 18 µs with one sweep a second (2,000 hits that include one).
 */
const SWEEP_EVERY_MS = 1000;

/** One instance's memory: fine for one instance, wrong for several (use Redis there). */
export class MemoryRateLimitStorage implements RateLimitStorage {
  private readonly counters = new Map<string, { hits: number; resetAt: number; blockedUntil: number }>();
  private nextSweepAt = 0;

  async hit(key: string, windowMs: number, limit: number, blockMs: number): Promise<HitCount> {
    const now = Date.now();
    if (this.counters.size > SWEEP_ABOVE && now >= this.nextSweepAt) this.sweep(now);
    let c = this.counters.get(key);
    if (c && c.blockedUntil > now) return { blocked: true, retryAfterMs: c.blockedUntil - now };
    if (!c || c.resetAt <= now) this.counters.set(key, (c = { hits: 0, resetAt: now + windowMs, blockedUntil: 0 }));
    c.hits++;
    if (c.hits <= limit) return { blocked: false, retryAfterMs: 0 };
    c.blockedUntil = now + blockMs;
    return { blocked: true, retryAfterMs: blockMs };
  }

  async blockedFor(key: string): Promise<number> {
    return Math.max(0, (this.counters.get(key)?.blockedUntil ?? 0) - Date.now());
  }

  /** Drops the keys whose window and block have both ended. */
  private sweep(now: number): void {
    this.nextSweepAt = now + SWEEP_EVERY_MS;
    for (const [k, c] of this.counters) if (c.resetAt <= now && c.blockedUntil <= now) this.counters.delete(k);
  }
}

/** One round trip, atomic: count the hit, start the window on the first, block once over the limit. */
const HIT = `
local blocked = redis.call('PTTL', KEYS[2])
if blocked > 0 then return {1, blocked} end
local hits = redis.call('INCR', KEYS[1])
if hits == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
if hits > tonumber(ARGV[2]) then
  redis.call('SET', KEYS[2], '1', 'PX', ARGV[3])
  return {1, tonumber(ARGV[3])}
end
return {0, 0}`;

/**
 * Shared by every instance through Redis. While Redis does not answer (a failure, its timeout, or its circuit breaker
 * open: {@link SharedRedis}) the request is not refused for it: it is counted in this instance's memory instead, so
 * limits hold per instance rather than vanishing (losing shared counting for a while beats refusing every sign-in).
 * SharedRedis logs the outage (throttled); nothing is logged per request here.
 */
export class RedisRateLimitStorage implements RateLimitStorage {
  private readonly fallback = new MemoryRateLimitStorage();

  constructor(
    private readonly redis: SharedRedis,
    private readonly prefix: string,
  ) {}

  async hit(key: string, windowMs: number, limit: number, blockMs: number): Promise<HitCount> {
    const base = `${this.prefix}ratelimit:${key}`;
    try {
      const [blocked, retryAfterMs] = (await this.redis.run((r) =>
        r.eval(HIT, 2, base, `${base}:blocked`, windowMs, limit, blockMs),
      )) as number[];
      return { blocked: blocked === 1, retryAfterMs };
    } catch (e) {
      if (!(e instanceof RedisUnavailable)) throw e;
      return this.fallback.hit(key, windowMs, limit, blockMs);
    }
  }

  async blockedFor(key: string): Promise<number> {
    try {
      return Math.max(0, await this.redis.run((r) => r.pttl(`${this.prefix}ratelimit:${key}:blocked`)));
    } catch (e) {
      if (!(e instanceof RedisUnavailable)) throw e;
      return this.fallback.blockedFor(key);
    }
  }
}
