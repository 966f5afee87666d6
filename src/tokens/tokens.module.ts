import { Module } from '@nestjs/common';
import { AuditModule } from '../audit/audit.module.js';
import { AccessTokensService } from './access-tokens.service.js';
import { RevocationsRepository } from './revocations.repository.js';
import { RevocationsService } from './revocations.service.js';
import { SessionsRepository } from './sessions.repository.js';
import { SessionsService } from './sessions.service.js';
import { SigningKeysRepository } from './signing-keys.repository.js';
import { SigningKeysService } from './signing-keys.service.js';
import { KeysAdminController } from './keys-admin.controller.js';
import { WellKnownController } from './well-known.controller.js';
import { RevocationFeedController } from './revocation-feed.controller.js';

@Module({
  imports: [AuditModule],
  controllers: [WellKnownController, KeysAdminController, RevocationFeedController],
  providers: [
    SigningKeysService,
    AccessTokensService,
    SessionsService,
    RevocationsService,
    SessionsRepository,
    RevocationsRepository,
    SigningKeysRepository,
  ],
  exports: [SigningKeysService, AccessTokensService, SessionsService, RevocationsService],
})
export class TokensModule {}
