import { Controller, Delete, Get, HttpCode, Param, ParseUUIDPipe, Req } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiNoContentResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiProperty,
  ApiTags,
  ApiUnauthorizedResponse,
} from '@nestjs/swagger';
import type { Request } from 'express';
import { AccountsService } from '../accounts/accounts.service.js';
import { DomainError } from '../common/domain-error.js';
import { AdminApi } from '../http/admin-api.decorator.js';
import { CurrentAuth } from '../http/current-auth.decorator.js';
import { ErrorDto } from '../http/error.dto.js';
import { requestContext } from '../http/request-context.js';
import { UsersOnly } from '../http/users-only.decorator.js';
import type { AccessTokenClaims } from '../tokens/access-tokens.service.js';
import { ConsentsService } from './consents.service.js';

export class AppWithAccessDto {
  @ApiProperty({ example: 'svc-3kT9…' }) clientId: string;
  @ApiProperty({ nullable: true, type: String, description: 'null once the client is deleted' }) name: string | null;
  @ApiProperty({ type: [String], example: ['openid', 'profile', 'email'] }) scopes: string[];
  @ApiProperty({ type: [String], description: 'single claims allowed through the claims parameter' }) claims: string[];
  @ApiProperty({ format: 'date-time' }) firstGrantedAt: string;
  @ApiProperty({ format: 'date-time' }) lastGrantedAt: string;
  @ApiProperty({ format: 'date-time', nullable: true, type: String }) lastUsedAt: string | null;
}

/** Client ids are ours (`svc-…`); anything else names no app, and never reaches the database. */
function clientIdOf(raw: string): string {
  if (!/^[A-Za-z0-9._~-]{1,64}$/.test(raw)) throw new DomainError('not_found', 'no such app with access');
  return raw;
}

/**
 * "Apps with access" (Keycloak's account console "Applications"): the third-party clients of the OpenID Provider the
 * person consented to, and revoking that consent. Served only when OPENID_PROVIDER=true (this module); otherwise the
 * routes do not exist (404), and the account page leaves the section out.
 */
@ApiTags('me')
@ApiBearerAuth()
@ApiUnauthorizedResponse({ description: 'no or invalid bearer token', type: ErrorDto })
@UsersOnly()
@Controller('me/apps')
export class MyAppsController {
  constructor(private readonly consents: ConsentsService) {}

  @Get()
  @ApiOkResponse({ type: [AppWithAccessDto] })
  list(@CurrentAuth() auth: AccessTokenClaims) {
    return this.consents.list(auth.sub);
  }

  /** Revokes the consent: the app's grants and its sessions end, and its next sign-in asks again. */
  @Delete(':client_id')
  @HttpCode(204)
  @ApiNoContentResponse()
  @ApiNotFoundResponse({ description: 'not_found', type: ErrorDto })
  async revoke(@CurrentAuth() auth: AccessTokenClaims, @Param('client_id') clientId: string, @Req() req: Request): Promise<void> {
    await this.consents.revoke(auth.sub, clientIdOf(clientId), { actorId: auth.sub, ctx: requestContext(req) });
  }
}

/** The admin's view of a person's "Apps with access", and revoking a consent for them (audited with the admin as actor). */
@AdminApi()
@Controller('admin/users/:id/apps')
export class UserAppsAdminController {
  constructor(
    private readonly consents: ConsentsService,
    private readonly accounts: AccountsService,
  ) {}

  @Get()
  @ApiOkResponse({ type: [AppWithAccessDto] })
  async list(@Param('id', new ParseUUIDPipe()) id: string) {
    if (!(await this.accounts.findUser(id))) throw new DomainError('not_found', 'no such user');
    return this.consents.list(id);
  }

  @Delete(':client_id')
  @HttpCode(204)
  @ApiNoContentResponse()
  @ApiNotFoundResponse({ description: 'not_found', type: ErrorDto })
  async revoke(
    @Param('id', new ParseUUIDPipe()) id: string,
    @Param('client_id') clientId: string,
    @CurrentAuth() auth: AccessTokenClaims,
    @Req() req: Request,
  ): Promise<void> {
    await this.consents.revoke(id, clientIdOf(clientId), { actorId: auth.sub, ctx: requestContext(req) });
  }
}
