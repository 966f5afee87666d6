import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import type { Request } from 'express';
import type { AccessTokenClaims } from '../tokens/access-tokens.service.js';

export type AuthenticatedRequest = Request & { auth: AccessTokenClaims };

/** The verified access-token claims of the caller (set by JwtAuthGuard). */
export const CurrentAuth = createParamDecorator(
  (_: unknown, ctx: ExecutionContext) => ctx.switchToHttp().getRequest<AuthenticatedRequest>().auth,
);
