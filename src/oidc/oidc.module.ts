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
import { BackchannelLogoutRepository } from './backchannel-logout.repository.js';
import { BackchannelLogoutService } from './backchannel-logout.service.js';
import { openIdProviderMetadata } from './discovery.js';
import { InteractionLoginGuard, PendingSignInCookie } from './interaction-login.guard.js';
import { OidcInteractionController } from './oidc-interaction.controller.js';
import { OidcProviderService, OP_MOUNT } from './oidc-provider.service.js';
import { OidcSessionsService } from './oidc-sessions.service.js';
import { OidcRepository } from './oidc.repository.js';
import { UserinfoController } from './userinfo.controller.js';
import { MyAppsController, UserAppsAdminController } from './apps.controller.js';
import { ConsentInteraction, OidcConsentController } from './consent.controller.js';
import { ConsentsRepository } from './consents.repository.js';
import { ConsentsService } from './consents.service.js';
import { SESSION_CLIENTS } from '../tokens/session-clients.js';
import { ClientTokensController, INTROSPECTION_PATH, REVOCATION_PATH } from './client-tokens.controller.js';
import { ClientTokensService } from './client-tokens.service.js';
import { OidcGrantsRepository } from './oidc-grants.repository.js';
import { OpRateLimit } from './op-rate-limit.js';

/** Hands every request under OP_MOUNT (but our UserInfo, revocation and introspection) to oidc-provider. */
@Injectable()
class OpenIdProviderMiddleware implements NestMiddleware {
  constructor(
    private readonly op: OidcProviderService,
    private readonly limits: OpRateLimit,
  ) {}

  use(req: Request, res: Response, next: NextFunction): void {
    const path = new URL(req.originalUrl, 'http://op').pathname.slice(OP_MOUNT.length);
    this.limits
      .allow(path, req, res)
      .then((allowed) => (allowed ? this.op.handle(req, res) : undefined))
      .catch(next);
  }
}

/**
 * The OpenID Provider (issue 17, docs/openid-provider.md), on with OPENID_PROVIDER=true. Global only so that the
 * discovery document (tokens/) can take its metadata, and the session lists (me/, admin/) their clients, without
 * importing this feature.
 */
@Global()
@Module({
  imports: [TokensModule, AccountsModule, AuthModule, ClientsModule, AuditModule],
  controllers: [
    OidcInteractionController,
    UserinfoController,
    OidcConsentController,
    MyAppsController,
    UserAppsAdminController,
    ClientTokensController,
  ],
  providers: [
    OidcRepository,
    OidcSessionsService,
    OidcProviderService,
    BackchannelLogoutRepository,
    BackchannelLogoutService,
    OpenIdProviderMiddleware,
    PendingSignInCookie,
    InteractionLoginGuard,
    ConsentsRepository,
    ConsentsService,
    ConsentInteraction,
    // The session lists (me/, admin/) name each app's session's client through this port (tokens/session-clients.ts).
    { provide: SESSION_CLIENTS, useExisting: ConsentsService },
    OidcGrantsRepository,
    ClientTokensService,
    OpRateLimit,
    { provide: DISCOVERY_METADATA, inject: [APP_CONFIG], useFactory: (config: ResolvedConfig) => () => openIdProviderMetadata(config) },
  ],
  exports: [DISCOVERY_METADATA, SESSION_CLIENTS],
})
export class OidcModule implements NestModule {
  configure(consumer: MiddlewareConsumer): void {
    consumer
      .apply(OpenIdProviderMiddleware)
      .exclude(
        { path: `${OP_MOUNT.slice(1)}/userinfo`, method: RequestMethod.ALL },
        { path: `${OP_MOUNT.slice(1)}${REVOCATION_PATH}`, method: RequestMethod.ALL },
        { path: `${OP_MOUNT.slice(1)}${INTROSPECTION_PATH}`, method: RequestMethod.ALL },
      )
      .forRoutes({ path: `${OP_MOUNT.slice(1)}/*path`, method: RequestMethod.ALL });
  }
}
