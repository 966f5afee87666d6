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

/** One instance's memory: fine for one instance, wrong for several (use Redis there). */
export class MemoryRateLimitStorage implements RateLimitStorage {
  private readonly counters = new Map<string, { hits: number; resetAt: number; blockedUntil: number }>();

  async hit(key: string, windowMs: number, limit: number, blockMs: number): Promise<HitCount> {
    const now = Date.now();
    if (this.counters.size > 100_000)
      for (const [k, c] of this.counters) if (c.resetAt <= now && c.blockedUntil <= now) this.counters.delete(k);
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
