import { Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AccountsModule } from '../accounts/accounts.module.js';
import { AuditModule } from '../audit/audit.module.js';
import { ClientsModule } from '../clients/clients.module.js';
import { TokensModule } from '../tokens/tokens.module.js';
import { AuthController } from './auth.controller.js';
import { FormPostCallbackController } from './form-post.controller.js';
import { AuthorizationCode } from './authorization-code.entity.js';
import { AuthorizationCodesService } from './authorization-codes.service.js';
import { ExpiredRowsCleanup } from './expired-rows.cleanup.js';
import { JwtAuthGuard } from './guards/jwt-auth.guard.js';
import { RolesGuard } from './guards/roles.guard.js';
import { ProvidersModule } from './providers/providers.module.js';
import { SignInService } from './sign-in.service.js';
import { TokenController } from './token.controller.js';
import { LinkTicketsService } from './link-tickets.service.js';
import { TokenEndpointService } from './token-endpoint.service.js';
import { PageSessionService } from './page-session.service.js';

@Module({
  imports: [TypeOrmModule.forFeature([AuthorizationCode]), TokensModule, AccountsModule, AuditModule, ClientsModule, ProvidersModule],
  controllers: [AuthController, TokenController, FormPostCallbackController],
  providers: [
    SignInService,
    AuthorizationCodesService,
    TokenEndpointService,
    LinkTicketsService,
    PageSessionService,
    ExpiredRowsCleanup,
    // Order matters: authenticate first, then check roles. Deny by default; @Public() opts out.
    { provide: APP_GUARD, useClass: JwtAuthGuard },
    { provide: APP_GUARD, useClass: RolesGuard },
  ],
  exports: [ProvidersModule, PageSessionService, SignInService, AuthorizationCodesService, LinkTicketsService],
})
export class AuthModule {}
