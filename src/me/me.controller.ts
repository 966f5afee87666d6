import { UsersOnly } from '../http/users-only.decorator.js';
import { Controller, Delete, Get, HttpCode, Inject, Optional, Param, ParseUUIDPipe, Req } from '@nestjs/common';
import type { Request } from 'express';
import { requestContext } from '../http/request-context.js';
import { isoTime } from '../common/time.js';
import { ApiBearerAuth, ApiConflictResponse, ApiNoContentResponse, ApiOkResponse, ApiTags, ApiUnauthorizedResponse } from '@nestjs/swagger';
import { ErrorDto } from '../http/error.dto.js';
import { ClaimsDto, MeDto, SessionDto } from './me.dto.js';
import { CurrentAuth } from '../http/current-auth.decorator.js';
import { DomainError } from '../common/domain-error.js';
import type { AccessTokenClaims } from '../tokens/access-tokens.service.js';
import { SessionsService } from '../tokens/sessions.service.js';
import { SESSION_CLIENTS, type SessionClients } from '../tokens/session-clients.js';
import { AccountsService } from '../accounts/accounts.service.js';
import { effectiveRoles } from '../tokens/token-roles.js';

@ApiTags('me')
@ApiBearerAuth()
@ApiUnauthorizedResponse({ description: 'no or invalid bearer token', type: ErrorDto })
@UsersOnly()
@Controller('me')
export class MeController {
  constructor(
    private readonly accounts: AccountsService,
    private readonly sessions: SessionsService,
    @Optional() @Inject(SESSION_CLIENTS) private readonly clients?: SessionClients,
  ) {}

  @Get()
  @ApiOkResponse({ type: MeDto })
  async me(@CurrentAuth() auth: AccessTokenClaims) {
    const user = await this.accounts.findUser(auth.sub);
    if (!user || user.disabled) throw new DomainError('invalid_token', 'the account is disabled or no longer exists');
    const identities = await this.accounts.identitiesOf(user.id);
    return {
      id: user.id,
      email: user.email,
      emailVerified: user.emailVerified,
      name: user.name,
      picture: user.picture,
      roles: effectiveRoles(user),
      identities: identities.map((i) => ({
        id: i.id,
        provider: i.provider,
        subject: i.subject,
        email: i.email,
        linkedAt: isoTime(i.linkedAt),
      })),
    };
  }

  /** The verified claims of the presented token, from the token alone: what an app sees, and the guard's own cost. */
  @Get('claims')
  @ApiOkResponse({ type: ClaimsDto })
  claims(@CurrentAuth() auth: AccessTokenClaims) {
    return auth;
  }

  /** Unlinks one of the caller's identities; never the last one (409 last_identity). */
  @Delete('identities/:identityId')
  @HttpCode(204)
  @ApiNoContentResponse()
  @ApiConflictResponse({ description: 'last_identity', type: ErrorDto })
  async unlink(
    @CurrentAuth() auth: AccessTokenClaims,
    @Param('identityId', new ParseUUIDPipe()) identityId: string,
    @Req() req: Request,
  ): Promise<void> {
    await this.accounts.unlink(auth.sub, identityId, requestContext(req));
  }

  /**
   * The caller's active sessions (devices), the current one marked. An app's session names the browser session it was
   * signed in through (`browserSessionId`) and, for a client of the OpenID Provider, the client: "Chrome on Linux →
   * signed in to Wiki".
   */
  @Get('sessions')
  @ApiOkResponse({ type: [SessionDto] })
  async mySessions(@CurrentAuth() auth: AccessTokenClaims) {
    const [sessions, clients] = await Promise.all([this.sessions.listActive(auth.sub), this.clients?.of(auth.sub)]);
    return sessions.map((s) => ({
      id: s.id,
      current: s.id === auth.sid,
      createdAt: isoTime(s.createdAt),
      lastUsedAt: isoTime(s.lastUsedAt),
      userAgent: s.userAgent,
      ip: s.ip,
      browserSessionId: s.browserSessionId,
      client: clients?.get(s.id) ?? null,
    }));
  }

  /** Signs every device out, this one included ("sign out everywhere"). */
  @Delete('sessions')
  @ApiOkResponse({ description: '{ revoked: number }' })
  async endAllSessions(@CurrentAuth() auth: AccessTokenClaims, @Req() req: Request): Promise<{ revoked: number }> {
    return { revoked: await this.sessions.signOutEverywhere(auth.sub, requestContext(req)) };
  }

  /** Signs one device out: its refresh token and its access tokens stop working. */
  @Delete('sessions/:id')
  @HttpCode(204)
  @ApiNoContentResponse()
  async endSession(
    @CurrentAuth() auth: AccessTokenClaims,
    @Param('id', new ParseUUIDPipe()) id: string,
    @Req() req: Request,
  ): Promise<void> {
    const session = (await this.sessions.listActive(auth.sub)).find((s) => s.id === id);
    if (!session) throw new DomainError('not_found', 'no such active session');
    await this.sessions.revoke(id, 'signed_out_by_user', { actorId: auth.sub, ctx: requestContext(req) });
  }
}
