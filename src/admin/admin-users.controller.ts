import { AdminApi } from '../http/admin-api.decorator.js';
import { Body, Controller, Delete, Get, HttpCode, Param, ParseUUIDPipe, Patch, Post, Query, Req } from '@nestjs/common';
import { ApiConflictResponse, ApiNoContentResponse, ApiOkResponse } from '@nestjs/swagger';
import { ErrorDto } from '../http/error.dto.js';
import type { Request } from 'express';
import { CurrentAuth } from '../http/current-auth.decorator.js';

import { AuditService } from '../audit/audit.service.js';
import { requestContext } from '../http/request-context.js';
import type { AccessTokenClaims } from '../tokens/access-tokens.service.js';
import {
  AuditPageDto,
  AuditQueryDto,
  ListUsersQueryDto,
  MergeUsersDto,
  RevokedDto,
  UpdateUserDto,
  UserDetailDto,
  UserPageDto,
} from './admin.dto.js';
import { AdminUsersService } from './admin-users.service.js';

const uuid = new ParseUUIDPipe();

/** Admins only: every route needs a bearer token with the `admin` role (401 without a token, 403 without the role). */
@AdminApi()
@Controller('admin')
export class AdminUsersController {
  constructor(
    private readonly users: AdminUsersService,
    private readonly audit: AuditService,
  ) {}

  @Get('users')
  @ApiOkResponse({ type: UserPageDto })
  list(@Query() q: ListUsersQueryDto) {
    return this.users.list(q.query, q.limit, q.cursor);
  }

  @Get('users/:id')
  @ApiOkResponse({ type: UserDetailDto })
  get(@Param('id', uuid) id: string) {
    return this.users.get(id);
  }

  @Patch('users/:id')
  @ApiOkResponse({ type: UserDetailDto })
  @ApiConflictResponse({ description: 'last_admin', type: ErrorDto })
  update(@Param('id', uuid) id: string, @Body() body: UpdateUserDto, @CurrentAuth() auth: AccessTokenClaims, @Req() req: Request) {
    return this.users.update(id, body, auth.sub, requestContext(req));
  }

  @Delete('users/:id')
  @HttpCode(204)
  @ApiNoContentResponse()
  @ApiConflictResponse({ description: 'last_admin', type: ErrorDto })
  async remove(@Param('id', uuid) id: string, @CurrentAuth() auth: AccessTokenClaims, @Req() req: Request): Promise<void> {
    await this.users.remove(id, auth.sub, requestContext(req));
  }

  @Delete('users/:id/identities/:identityId')
  @HttpCode(204)
  @ApiNoContentResponse()
  @ApiConflictResponse({ description: 'last_identity', type: ErrorDto })
  async removeIdentity(
    @Param('id', uuid) id: string,
    @Param('identityId', uuid) identityId: string,
    @CurrentAuth() auth: AccessTokenClaims,
    @Req() req: Request,
  ): Promise<void> {
    await this.users.removeIdentity(id, identityId, auth.sub, requestContext(req));
  }

  @Post('users/:id/sessions/revoke')
  @HttpCode(200)
  @ApiOkResponse({ type: RevokedDto })
  revokeSessions(@Param('id', uuid) id: string, @CurrentAuth() auth: AccessTokenClaims, @Req() req: Request) {
    return this.users.revokeSessions(id, auth.sub, requestContext(req));
  }

  @Post('users/:id/merge')
  @HttpCode(200)
  @ApiOkResponse({ type: UserDetailDto })
  merge(@Param('id', uuid) id: string, @Body() body: MergeUsersDto, @CurrentAuth() auth: AccessTokenClaims, @Req() req: Request) {
    return this.users.merge(id, body.sourceUserId, auth.sub, requestContext(req));
  }

  @Get('audit')
  @ApiOkResponse({ type: AuditPageDto })
  auditTrail(@Query() q: AuditQueryDto) {
    return this.audit.list({ userId: q.userId, type: q.type }, q.limit, q.cursor);
  }
}
