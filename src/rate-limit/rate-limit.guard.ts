import { Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request } from 'express';
import { DomainError } from '../common/domain-error.js';
import { clientIp } from '../common/request-context.js';
import type { ResolvedConfig } from '../config/app-secret.js';
import { InjectConfig } from '../config/config.module.js';
import { RATE_LIMIT, type RateLimitClass } from './rate-limit.decorator.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { RateLimiter, retryAfterSeconds } from './rate-limiter.service.js';

/**
 * Per-client-IP limits on the routes marked @RateLimit(): sign-in start and callback, the token endpoint and the
 * admin API; one-minute windows, then 429 rate_limited with Retry-After. Shared through Redis when REDIS_URL is set.
 *
 * Why not @nestjs/throttler: its current release (6.x) is CommonJS and `require`s @nestjs/common, which NestJS 12
 * ships as ESM only; Node 20 manages, but Jest on Node 20 cannot load it, so none of its routes could be tested.
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
    if (!kind) return true;
    const ip = clientIp(context.switchToHttp().getRequest<Request>()) ?? 'unknown';
    const { blocked, retryAfterMs } = await this.limiter.hit(`${kind}:${ip}`, this.config.rateLimitPerMinute[kind]);
    if (!blocked) return true;
    this.metrics.rateLimited.inc({ kind });
    throw new DomainError('rate_limited', 'too many requests from this client; retry later').retryingAfter(retryAfterSeconds(retryAfterMs));
  }
}
