import { Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request } from 'express';
import { DomainError } from '../common/domain-error.js';
import { clientIp } from '../http/request-context.js';
import type { ResolvedConfig } from '../config/app-secret.js';
import { InjectConfig } from '../config/config.module.js';
import { RATE_LIMIT, type RateLimitClass } from '../http/rate-limit.decorator.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { RateLimiter, retryAfterSeconds } from './rate-limiter.service.js';

/**
 * Per-client-IP limits on the routes marked @RateLimit(): sign-in start and callback, the token endpoint and the
 * admin API; one-minute windows, then 429 rate_limited with Retry-After. Shared through Redis when REDIS_URL is set.
 *
 * Why not @nestjs/throttler: its current release (6.x) is CommonJS and `require`s @nestjs/common, which NestJS 12
 * ships as ESM only; Node 20 manages, but Jest on Node 20 cannot load it, so none of its routes could be tested.
 *
 * Why not rate-limiter-flexible (issue 16 §6): it loads under Jest ESM, and set up as RateLimiterMemory, or as
 * RateLimiterRedis with that as its insuranceLimiter and its Redis calls sent through SharedRedis.run (timeout and
 * breaker), it passed rate-limits, redis-faults and clients e2e (commit 7693379). But it measured slower on every hit:
 * CPU µs per hit, ours → the library, medians of 5 interleaved rounds (`npm run build && node --expose-gc
 * bench/rate-limit.bench.mjs`, 2026-12-01, 2 shared cores): memory, one client under its limit 0.96 → 1.65 (1.7×),
 * 10,000 clients in turn 1.30 → 1.85 (1.4×), a new client every hit 2.35 → 5.11 (2.2×), a client over its limit
 * 1.39 → 5.40 (3.9×: it rejects a promise per refusal); Redis 43–50 → 60–66 (1.3–1.5×). A second run in the same hour:
 * memory 1.6–3.6×, Redis 1.1–1.5×. A few microseconds against a request's hundreds, but well past the 10 % the issue
 * allowed on the memory path, the hot one without Redis. What the library did better, its memory store's bound on
 * many live keys (a timer per key instead of a sweep), MemoryRateLimitStorage now does with a sweep once a second.
 */
@Injectable()
export class RateLimitGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    @InjectConfig() private readonly config: ResolvedConfig,
    private readonly limiter: RateLimiter,
    private readonly metrics: MetricsService,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    if (!this.limiter.enabled) return true;
    const kind = this.reflector.getAllAndOverride<RateLimitClass | undefined>(RATE_LIMIT, [context.getHandler(), context.getClass()]);
    if (kind) await this.enforce(kind, context.switchToHttp().getRequest<Request>());
    return true;
  }

  /** Counts the request against its client's `kind` limit; 429 rate_limited once over it. */
  async enforce(kind: RateLimitClass, req: Request): Promise<void> {
    if (!this.limiter.enabled) return;
    const ip = clientIp(req) ?? 'unknown';
    const { blocked, retryAfterMs } = await this.limiter.hit(`${kind}:${ip}`, this.config.rateLimitPerMinute[kind]);
    if (!blocked) return;
    this.metrics.rateLimited.inc({ kind });
    throw new DomainError('rate_limited', 'too many requests from this client; retry later').retryingAfter(retryAfterSeconds(retryAfterMs));
  }
}
