import { Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { DomainError } from '../../common/domain-error.js';
import type { Request, Response } from 'express';
import { AccessTokensService, type AccessTokenClaims } from '../../tokens/access-tokens.service.js';
import { PageSessionService } from '../page-session.service.js';
import { RevocationsService } from '../../tokens/revocations.service.js';
import { IS_PUBLIC } from '../../http/public.decorator.js';
import { USERS_ONLY } from '../../http/users-only.decorator.js';

/** A request this guard let through: `auth` holds the caller's verified claims (read with @CurrentAuth()). */
export type AuthenticatedRequest = Request & { auth: AccessTokenClaims };

/** RFC 6750 §2.1 Authorization header only; tokens in query strings or bodies are not read (RFC 9700 §4.3.2). */
export function bearerToken(header: unknown): string | undefined {
  if (typeof header !== 'string') return undefined;
  const match = /^Bearer ([A-Za-z0-9._~+/-]+=*)$/i.exec(header);
  return match?.[1];
}

/**
 * Global and deny by default: every route needs a valid access token unless marked @Public(). People's and API
 * clients' tokens pass alike (so @Roles() works for both), except on @UsersOnly() routes.
 */
@Injectable()
export class JwtAuthGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly tokens: AccessTokensService,
    private readonly revocations: RevocationsService,
    private readonly pages: PageSessionService,
  ) {}

  canActivate(context: ExecutionContext): boolean | Promise<boolean> {
    const targets = [context.getHandler(), context.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(IS_PUBLIC, targets)) return true;
    const http = context.switchToHttp();
    const req = http.getRequest<AuthenticatedRequest>();
    // Our own pages authenticate with their cookie session (no token in the page); everything else with a bearer.
    if (req.headers.authorization === undefined && this.pages.hasCookie(req)) {
      return this.pages.authenticate(req, http.getResponse<Response>()).then((claims) => this.admit(req, claims, targets));
    }
    const token = bearerToken(req.headers.authorization);
    if (!token) throw new DomainError('invalid_token', 'a bearer access token is required');
    const claims = this.tokens.verify(token);
    // Logout, session revoke, disable and role changes reach access tokens here, from memory (RevocationsService).
    if (this.revocations.isRevoked(claims.sid, claims.sub, claims.iat)) throw new DomainError('invalid_token', 'the session has ended');
    return this.admit(req, claims, targets);
  }

  private admit(req: AuthenticatedRequest, claims: AccessTokenClaims | undefined, targets: Function[]): boolean {
    if (!claims) throw new DomainError('invalid_token', 'a bearer access token or a signed-in page session is required');
    // An API client's own token has no session; a person's token issued to an OpenID client has both (issue 17).
    if (claims.client_id && !claims.sid && this.reflector.getAllAndOverride<boolean>(USERS_ONLY, targets)) {
      throw new DomainError('forbidden', 'this route is for signed-in users; an API client token is not accepted here');
    }
    req.auth = claims;
    return true;
  }
}
