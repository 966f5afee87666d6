import { SetMetadata } from '@nestjs/common';

export type RateLimitClass = 'signIn' | 'token' | 'admin';
export const RATE_LIMIT = 'rateLimit';

/** Puts a controller or route under one of the configured per-IP limits (RATE_LIMIT_SIGN_IN, _TOKEN, _ADMIN). */
export const RateLimit = (kind: RateLimitClass) => SetMetadata(RATE_LIMIT, kind);
