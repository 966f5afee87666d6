import { Global, Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { RateLimitGuard } from './rate-limit.guard.js';
import { RateLimiter } from './rate-limiter.service.js';

/** RATE_LIMITS=off disables the limits (benchmarks, or a gateway in front that limits). */
@Global()
@Module({
  providers: [RateLimiter, RateLimitGuard, { provide: APP_GUARD, useExisting: RateLimitGuard }],
  exports: [RateLimiter],
})
export class RateLimitModule {}
