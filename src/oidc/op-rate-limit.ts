import { Injectable } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { Request, Response } from 'express';
import type { ResolvedConfig } from '../config/app-secret.js';
import { InjectConfig } from '../config/config.module.js';
import type { RateLimitClass } from '../http/rate-limit.decorator.js';
import { clientIp } from '../http/request-context.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { RateLimiter, retryAfterSeconds } from '../rate-limit/rate-limiter.service.js';

/**
 * oidc-provider's endpoints under the limits of our own (RateLimitGuard): they are served by a middleware, which no
 * guard sees, so the same limiter is asked here. The authorization and end-session endpoints count as sign-in
 * requests (RATE_LIMIT_SIGN_IN), the token endpoint as a token request (RATE_LIMIT_TOKEN), per client IP and in the
 * same buckets as /auth/login and /auth/token, so a second way in gives no second allowance. Our revocation and
 * introspection controllers take @RateLimit('token') and so share that bucket too.
 */
const LIMITED: Record<string, RateLimitClass> = {
  '/auth': 'signIn',
  '/session/end': 'signIn',
  '/session/end/confirm': 'signIn',
  '/token': 'token',
};

@Injectable()
export class OpRateLimit {
  constructor(
    private readonly adapterHost: HttpAdapterHost,
    private readonly limiter: RateLimiter,
    private readonly metrics: MetricsService,
    @InjectConfig() private readonly config: ResolvedConfig,
  ) {}

  /** Nest's adapter-neutral response API: every answer goes through it (docs/fastify-trial.md, step 1). */
  private get http() {
    return this.adapterHost.httpAdapter;
  }

  /**
   * Counts the request when its path (below the mount) is limited; over the limit answers 429 rate_limited with
   * Retry-After, as the filter does for our routes, and returns false.
   */
  async allow(path: string, req: Request, res: Response): Promise<boolean> {
    const kind = LIMITED[limitedPath(path)];
    if (!kind || !this.limiter.enabled) return true;
    const ip = clientIp(req) ?? 'unknown';
    const { blocked, retryAfterMs } = await this.limiter.hit(`${kind}:${ip}`, this.config.rateLimitPerMinute[kind]);
    if (!blocked) return true;
    this.metrics.rateLimited.inc({ kind });
    this.http.setHeader(res, 'Retry-After', retryAfterSeconds(retryAfterMs));
    this.http.setHeader(res, 'Cache-Control', 'no-store');
    this.http.reply(res, { error: 'rate_limited', error_description: 'too many requests from this client; retry later' }, 429);
    return false;
  }
}

/**
 * oidc-provider's router matches without regard to letter case and with or without a trailing slash (koa's router
 * defaults), so /token/, /TOKEN and /Auth/ reach the same endpoints as /token and /auth: they count in the same bucket,
 * or every spelling would be a fresh allowance (RFC 6749 §10.10: guessing must stay slow; SECURITY.md O13).
 */
function limitedPath(path: string): string {
  return path.toLowerCase().replace(/\/+$/, '');
}
