import { Global, Injectable, Module, RequestMethod, type MiddlewareConsumer, type NestMiddleware, type NestModule } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import { AccountsModule } from '../accounts/accounts.module.js';
import { AuditModule } from '../audit/audit.module.js';
import { AuthModule } from '../auth/auth.module.js';
import { ClientsModule } from '../clients/clients.module.js';
import type { ResolvedConfig } from '../config/app-secret.js';
import { APP_CONFIG } from '../config/config.module.js';
import { TokensModule } from '../tokens/tokens.module.js';
import { DISCOVERY_METADATA } from '../tokens/well-known.controller.js';
import { openIdProviderMetadata } from './discovery.js';
import { InteractionLoginGuard, PendingSignInCookie } from './interaction-login.guard.js';
import { OidcInteractionController } from './oidc-interaction.controller.js';
import { OidcProviderService, OP_MOUNT } from './oidc-provider.service.js';
import { OidcSessionsService } from './oidc-sessions.service.js';
import { OidcRepository } from './oidc.repository.js';
import { UserinfoController } from './userinfo.controller.js';

/** Hands every request under OP_MOUNT (but our UserInfo) to oidc-provider. */
@Injectable()
class OpenIdProviderMiddleware implements NestMiddleware {
  constructor(private readonly op: OidcProviderService) {}

  use(req: Request, res: Response, next: NextFunction): void {
    this.op.handle(req, res).catch(next);
  }
}

/**
 * The OpenID Provider (issue 17, docs/openid-provider.md), on with OPENID_PROVIDER=true. Global only so that the
 * discovery document (tokens/) can take its metadata without importing this feature.
 */
@Global()
@Module({
  imports: [TokensModule, AccountsModule, AuthModule, ClientsModule, AuditModule],
  controllers: [OidcInteractionController, UserinfoController],
  providers: [
    OidcRepository,
    OidcSessionsService,
    OidcProviderService,
    OpenIdProviderMiddleware,
    PendingSignInCookie,
    InteractionLoginGuard,
    { provide: DISCOVERY_METADATA, inject: [APP_CONFIG], useFactory: (config: ResolvedConfig) => () => openIdProviderMetadata(config) },
  ],
  exports: [DISCOVERY_METADATA],
})
export class OidcModule implements NestModule {
  configure(consumer: MiddlewareConsumer): void {
    consumer
      .apply(OpenIdProviderMiddleware)
      .exclude({ path: `${OP_MOUNT.slice(1)}/userinfo`, method: RequestMethod.ALL })
      .forRoutes({ path: `${OP_MOUNT.slice(1)}/*path`, method: RequestMethod.ALL });
  }
}
