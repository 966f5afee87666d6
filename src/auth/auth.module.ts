import { Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { AccountsModule } from '../accounts/accounts.module.js';
import { AuditModule } from '../audit/audit.module.js';
import { ClientsModule } from '../clients/clients.module.js';
import { TokensModule } from '../tokens/tokens.module.js';
import { AuthController } from './auth.controller.js';
import { AuthorizationCodesService } from './authorization-codes.service.js';
import { ExpiredRowsCleanup } from './expired-rows.cleanup.js';
import { JwtAuthGuard } from './guards/jwt-auth.guard.js';
import { RolesGuard } from './guards/roles.guard.js';
import { LoginStateStore } from './login-state.store.js';
import { ProviderRegistry } from './providers/provider-registry.js';
import { SignInRepository } from './sign-in.repository.js';
import { SignInService } from './sign-in.service.js';
import { TokenController } from './token.controller.js';
import { LinkController } from './link.controller.js';
import { LinkTicketsService } from './link-tickets.service.js';
import { TokenEndpointService } from './token-endpoint.service.js';
import { PageSessionService } from './page-session.service.js';

@Module({
  imports: [TokensModule, AccountsModule, AuditModule, ClientsModule],
  controllers: [AuthController, TokenController, LinkController],
  providers: [
    LoginStateStore,
    ProviderRegistry,
    SignInService,
    AuthorizationCodesService,
    TokenEndpointService,
    LinkTicketsService,
    PageSessionService,
    ExpiredRowsCleanup,
    SignInRepository,
    // Order matters: authenticate first, then check roles. Deny by default; @Public() opts out.
    { provide: APP_GUARD, useClass: JwtAuthGuard },
    { provide: APP_GUARD, useClass: RolesGuard },
  ],
  exports: [ProviderRegistry, PageSessionService, SignInService, AuthorizationCodesService, LinkTicketsService],
})
export class AuthModule {}
