import { Controller, Get, HttpCode, Post, Req, Res } from '@nestjs/common';
import { HttpAdapterHost, type AbstractHttpAdapter } from '@nestjs/core';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { AccountsService } from '../accounts/accounts.service.js';
import { effectiveRoles } from '../tokens/token-roles.js';
import { Public } from '../http/public.decorator.js';
import { bearerToken } from '../auth/guards/jwt-auth.guard.js';
import { DomainError } from '../common/domain-error.js';
import { AccessTokensService } from '../tokens/access-tokens.service.js';
import { RevocationsService } from '../tokens/revocations.service.js';
import { OP_MOUNT, SCOPE_CLAIMS, USERINFO_CLAIMS } from './oidc-provider.service.js';

/** RFC 6750 §3: a bearer failure says so in WWW-Authenticate, with the RFC 6750 code. */
function refuse(http: AbstractHttpAdapter, res: Response, status: 400 | 401 | 403, error: string, description: string) {
  http.setHeader(res, 'WWW-Authenticate', `Bearer error="${error}", error_description="${description}"`);
  http.setHeader(res, 'Cache-Control', 'no-store');
  http.reply(res, { error, error_description: description }, status);
}

/**
 * OpenID Connect UserInfo (Core §5.3): ours rather than oidc-provider's, because the access tokens clients get are our
 * RFC 9068 JWTs, checked like every other (signature, claims, the revocation feed). The claims are the person's as
 * they are now, by the token's scopes: `sub` always (the local user id, as in the token); `name`, `picture` with
 * `profile`; `email`, `email_verified` with `email`; `roles` with `roles`; and those the authorization request asked
 * for at UserInfo with the `claims` parameter (OIDC Core §5.5) and the grant allowed (the token's USERINFO_CLAIMS).
 */
@ApiTags('OpenID Provider')
@Public()
@Controller(OP_MOUNT.slice(1))
export class UserinfoController {
  constructor(
    private readonly adapterHost: HttpAdapterHost,
    private readonly tokens: AccessTokensService,
    private readonly revocations: RevocationsService,
    private readonly accounts: AccountsService,
  ) {}

  /** Nest's adapter-neutral response API: every answer goes through it (docs/fastify-trial.md, step 1). */
  private get http() {
    return this.adapterHost.httpAdapter;
  }

  @Get('userinfo')
  @ApiOperation({ summary: 'UserInfo: the bearer token in the Authorization header' })
  @ApiOkResponse({ description: 'the claims the token’s scopes grant' })
  get(@Req() req: Request, @Res() res: Response) {
    return this.answer(req.headers.authorization, undefined, res);
  }

  @Post('userinfo')
  @HttpCode(200)
  @ApiOperation({ summary: 'UserInfo: the bearer token in the Authorization header, or access_token in the form body (RFC 6750 §2.2)' })
  post(@Req() req: Request, @Res() res: Response) {
    const body = (req.body ?? {}) as Record<string, unknown>;
    return this.answer(req.headers.authorization, body.access_token, res);
  }

  private async answer(header: unknown, inBody: unknown, res: Response) {
    // RFC 6750 §2: one way of sending the token, never two.
    if (header !== undefined && inBody !== undefined) return refuse(this.http, res, 400, 'invalid_request', 'send the token one way only');
    const token = header !== undefined ? bearerToken(header) : typeof inBody === 'string' ? inBody : undefined;
    if (!token) return refuse(this.http, res, 401, 'invalid_token', 'a bearer access token is required');
    let claims;
    try {
      claims = this.tokens.verify(token);
    } catch (e) {
      if (e instanceof DomainError) return refuse(this.http, res, 401, 'invalid_token', 'the access token is invalid');
      throw e;
    }
    if (!claims.sid || this.revocations.isRevoked(claims.sid, claims.sub, claims.iat)) {
      return refuse(this.http, res, 401, 'invalid_token', 'the access token is invalid');
    }
    const scopes = new Set((claims.scope ?? '').split(' '));
    if (!scopes.has('openid')) return refuse(this.http, res, 403, 'insufficient_scope', 'the access token lacks the openid scope');
    const user = await this.accounts.findUser(claims.sub);
    if (!user || user.disabled) return refuse(this.http, res, 401, 'invalid_token', 'the access token is invalid');
    const values: Record<string, unknown> = {
      sub: user.id,
      name: user.name,
      picture: user.picture,
      email: user.email,
      email_verified: user.email ? user.emailVerified : null,
      roles: effectiveRoles(user),
    };
    const granted = new Set([...scopes].flatMap((scope) => SCOPE_CLAIMS[scope] ?? []));
    const asked = (claims as { [USERINFO_CLAIMS]?: unknown })[USERINFO_CLAIMS];
    if (Array.isArray(asked)) for (const claim of asked) if (typeof claim === 'string' && Object.hasOwn(values, claim)) granted.add(claim);
    const answer: Record<string, unknown> = {};
    // Claims we do not have are left out, not sent as null (OIDC Core §5.3.2).
    for (const claim of granted) if (values[claim] !== null && values[claim] !== undefined) answer[claim] = values[claim];
    this.http.setHeader(res, 'Cache-Control', 'no-store');
    this.http.reply(res, answer, 200);
  }
}
