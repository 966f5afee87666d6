import { Injectable } from '@nestjs/common';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import type { ResolvedConfig } from '../config/app-secret.js';
import { InjectConfig } from '../config/config.module.js';
import { InjectRedis, type RedisClient } from '../redis/redis.module.js';
import { BreakerBoundRedis } from './breaker-bound-redis.js';

/** What is counted per client IP, each with its own limit per minute (RATE_LIMIT_SIGN_IN, _TOKEN, _ADMIN, _CLIENT_AUTH_FAILURES). */
export type RateLimitKind = keyof ResolvedConfig['rateLimitPerMinute'];

export interface HitCount {
  /** Over the limit: refused until `retryAfterMs` has passed. */
  blocked: boolean;
  retryAfterMs: number;
}

const MINUTE_S = 60;
const NOT_BLOCKED: HitCount = { blocked: false, retryAfterMs: 0 };

/**
 * One-minute fixed windows per kind and key; a key over its limit is blocked for a minute. rate-limiter-flexible's
 * memory store in one instance, its Redis store when REDIS_URL is set (counting shared by every instance).
 *
 * While Redis does not answer (a failure, its timeout, or its circuit breaker open: {@link SharedRedis}, reached through
 * {@link BreakerBoundRedis}) a request is not refused for it: RateLimiterRedis counts it in its `insuranceLimiter`, this
 * instance's memory, so limits hold per instance rather than vanishing (losing shared counting for a while beats
 * refusing every sign-in). SharedRedis logs the outage (throttled); nothing is logged per request here.
 */
@Injectable()
export class RateLimiter {
  private readonly limiters: Record<RateLimitKind, RateLimiterAbstract>;

  constructor(
    @InjectConfig() private readonly config: ResolvedConfig,
    @InjectRedis() redis: RedisClient,
  ) {
    const store = redis && new BreakerBoundRedis(redis);
    const limiter = (kind: RateLimitKind): RateLimiterAbstract => {
      // Redis keys as before the library: `<REDIS_KEY_PREFIX>ratelimit:<kind>:<ip>`, a counter with a TTL.
      const opts = {
        points: config.rateLimitPerMinute[kind],
        duration: MINUTE_S,
        blockDuration: MINUTE_S,
        keyPrefix: `${config.redisKeyPrefix}ratelimit:${kind}`,
      };
      const memory = new RateLimiterMemory(opts);
      return store ? new RateLimiterRedis({ ...opts, storeClient: store, insuranceLimiter: memory }) : memory;
    };
    this.limiters = {
      signIn: limiter('signIn'),
      token: limiter('token'),
      admin: limiter('admin'),
      clientAuthFailures: limiter('clientAuthFailures'),
    };
  }

  get enabled(): boolean {
    return this.config.rateLimits;
  }

  /** Counts one event for `key` (a client IP); over the kind's limit per minute the key is blocked for a minute. */
  async hit(kind: RateLimitKind, key: string): Promise<HitCount> {
    if (!this.enabled) return NOT_BLOCKED;
    try {
      await this.limiters[kind].consume(key);
      return NOT_BLOCKED;
    } catch (e) {
      // The library rejects with a RateLimiterRes when over the limit; anything else is a fault of its own.
      if (!(e instanceof RateLimiterRes)) throw e;
      return { blocked: true, retryAfterMs: e.msBeforeNext };
    }
  }

  /** Milliseconds `key` is still blocked for (0: not blocked), without counting a hit. */
  async blockedFor(kind: RateLimitKind, key: string): Promise<number> {
    if (!this.enabled) return 0;
    const res = await this.limiters[kind].get(key);
    return res && res.consumedPoints > this.config.rateLimitPerMinute[kind] ? Math.max(0, res.msBeforeNext) : 0;
  }
}

export const retryAfterSeconds = (ms: number) => String(Math.max(1, Math.ceil(ms / 1000)));
