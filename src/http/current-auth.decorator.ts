import { createParamDecorator, type ExecutionContext } from '@nestjs/common';

/**
 * The verified access-token claims of the caller (`AccessTokenClaims`, set by JwtAuthGuard as `req.auth`). The
 * handler's parameter type says which claims; this folder knows no feature, tokens/ included.
 */
export const CurrentAuth = createParamDecorator(
  (_: unknown, ctx: ExecutionContext) => ctx.switchToHttp().getRequest<{ auth?: unknown }>().auth,
);
