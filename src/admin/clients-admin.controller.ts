import { AdminApi } from '../http/admin-api.decorator.js';
import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Req } from '@nestjs/common';
import { ApiCreatedResponse, ApiNoContentResponse, ApiNotFoundResponse, ApiOkResponse } from '@nestjs/swagger';
import type { Request } from 'express';
import { ErrorDto } from '../http/error.dto.js';
import { CurrentAuth } from '../http/current-auth.decorator.js';

import { requestContext } from '../http/request-context.js';
import { PathIdPipe } from '../http/validators.js';

import type { AccessTokenClaims } from '../tokens/access-tokens.service.js';
import { ClientDto, ClientWithSecretDto, CreateClientDto, RotateSecretDto, UpdateClientDto } from './clients-admin.dto.js';
import { ClientsService } from '../clients/clients.service.js';

/** client_id is a varchar(64). */
const CLIENT_ID = new PathIdPipe(64, 'client');

/** API clients (service accounts) for the client-credentials grant; admins only, every change audited. */
@AdminApi()
@Controller('admin/clients')
export class ClientsAdminController {
  constructor(private readonly clients: ClientsService) {}

  @Post()
  @ApiCreatedResponse({ type: ClientWithSecretDto, description: 'The secret is in this answer only' })
  create(@Body() body: CreateClientDto, @CurrentAuth() auth: AccessTokenClaims, @Req() req: Request) {
    return this.clients.create(body, auth.sub, requestContext(req));
  }

  @Get()
  @ApiOkResponse({ type: [ClientDto] })
  list() {
    return this.clients.list();
  }

  @Get(':clientId')
  @ApiOkResponse({ type: ClientDto })
  @ApiNotFoundResponse({ type: ErrorDto })
  get(@Param('clientId', CLIENT_ID) clientId: string) {
    return this.clients.get(clientId);
  }

  @Patch(':clientId')
  @ApiOkResponse({ type: ClientDto })
  @ApiNotFoundResponse({ type: ErrorDto })
  update(
    @Param('clientId', CLIENT_ID) clientId: string,
    @Body() body: UpdateClientDto,
    @CurrentAuth() auth: AccessTokenClaims,
    @Req() req: Request,
  ) {
    return this.clients.update(clientId, body, auth.sub, requestContext(req));
  }

  @Post(':clientId/secret')
  @HttpCode(200)
  @ApiOkResponse({ type: ClientWithSecretDto, description: 'The new secret, in this answer only' })
  @ApiNotFoundResponse({ type: ErrorDto })
  rotateSecret(
    @Param('clientId', CLIENT_ID) clientId: string,
    @Body() body: RotateSecretDto,
    @CurrentAuth() auth: AccessTokenClaims,
    @Req() req: Request,
  ) {
    return this.clients.rotateSecret(clientId, body.grace_period, auth.sub, requestContext(req));
  }

  @Delete(':clientId')
  @HttpCode(204)
  @ApiNoContentResponse({ description: 'deleted; its tokens stop working within a second' })
  @ApiNotFoundResponse({ type: ErrorDto })
  async remove(@Param('clientId', CLIENT_ID) clientId: string, @CurrentAuth() auth: AccessTokenClaims, @Req() req: Request): Promise<void> {
    await this.clients.remove(clientId, auth.sub, requestContext(req));
  }
}
