import { Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request, Response } from 'express';
import { DomainError } from '../common/domain-error.js';
import type { ResolvedConfig } from '../config/app-secret.js';
import { InjectConfig } from '../config/config.module.js';
import { InjectRedis, type RedisClient } from '../redis/redis.module.js';
import { RATE_LIMIT, type RateLimitClass } from './rate-limit.decorator.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { MemoryRateLimitStorage, RedisRateLimitStorage, type RateLimitStorage } from './rate-limit.storage.js';

const MINUTE_MS = 60_000;

/**
 * Per-client-IP limits on the routes marked @RateLimit(): sign-in start and callback, the token endpoint and the
 * admin API; one-minute windows, then 429 rate_limited with Retry-After. Shared through Redis when REDIS_URL is set.
 *
 * Why not @nestjs/throttler: its current release (6.x) is CommonJS and `require`s @nestjs/common, which NestJS 12
 * ships as ESM only; Node 20 manages, but Jest on Node 20 cannot load it, so none of its routes could be tested.
 */
@Injectable()
export class RateLimitGuard implements CanActivate {
  private readonly storage: RateLimitStorage;

  constructor(
    private readonly reflector: Reflector,
    @InjectConfig() private readonly config: ResolvedConfig,
    @InjectRedis() redis: RedisClient,
    private readonly metrics: MetricsService,
  ) {
    this.storage = redis ? new RedisRateLimitStorage(redis, config.redisKeyPrefix) : new MemoryRateLimitStorage();
  }

  async canActivate(context: ExecutionContext): Promise<boolean> {
    if (!this.config.rateLimits) return true;
    const kind = this.reflector.getAllAndOverride<RateLimitClass | undefined>(RATE_LIMIT, [context.getHandler(), context.getClass()]);
    if (!kind) return true;
    const http = context.switchToHttp();
    const ip = http.getRequest<Request>().ip ?? 'unknown';
    const { blocked, retryAfterMs } = await this.storage.hit(`${kind}:${ip}`, MINUTE_MS, this.config.rateLimitPerMinute[kind], MINUTE_MS);
    if (!blocked) return true;
    this.metrics.rateLimited.inc({ kind });
    http.getResponse<Response>().setHeader('Retry-After', String(Math.max(1, Math.ceil(retryAfterMs / 1000))));
    throw new DomainError('rate_limited', 'too many requests from this client; retry later');
  }
}
