import { Injectable } from '@nestjs/common';
import type { ResolvedConfig } from '../config/app-secret.js';
import { InjectConfig } from '../config/config.module.js';
import { InjectRedis, type RedisClient } from '../redis/redis.module.js';
import { MemoryRateLimitStorage, RedisRateLimitStorage, type RateLimitStorage, type HitCount } from './rate-limit.storage.js';

const MINUTE_MS = 60_000;

/** One-minute fixed windows per key, in this process or shared through Redis when REDIS_URL is set. */
@Injectable()
export class RateLimiter {
  private readonly storage: RateLimitStorage;

  constructor(
    @InjectConfig() private readonly config: ResolvedConfig,
    @InjectRedis() redis: RedisClient,
  ) {
    this.storage = redis ? new RedisRateLimitStorage(redis, config.redisKeyPrefix) : new MemoryRateLimitStorage();
  }

  get enabled(): boolean {
    return this.config.rateLimits;
  }

  /** Counts one event; over `perMinute` the key is blocked for a minute. */
  hit(key: string, perMinute: number): Promise<HitCount> {
    return this.enabled ? this.storage.hit(key, MINUTE_MS, perMinute, MINUTE_MS) : Promise.resolve({ blocked: false, retryAfterMs: 0 });
  }

  blockedFor(key: string): Promise<number> {
    return this.enabled ? this.storage.blockedFor(key) : Promise.resolve(0);
  }
}

export const retryAfterSeconds = (ms: number) => String(Math.max(1, Math.ceil(ms / 1000)));
