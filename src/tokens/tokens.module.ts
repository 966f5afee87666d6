import { Module } from '@nestjs/common';
import { AuditModule } from '../audit/audit.module.js';
import { AccessTokensService } from './access-tokens.service.js';
import { RevocationsService } from './revocations.service.js';
import { SessionsService } from './sessions.service.js';
import { SigningKeysService } from './signing-keys.service.js';
import { WellKnownController } from './well-known.controller.js';
import { RevocationFeedController } from './revocation-feed.controller.js';

@Module({
  imports: [AuditModule],
  controllers: [WellKnownController, RevocationFeedController],
  providers: [SigningKeysService, AccessTokensService, SessionsService, RevocationsService],
  exports: [SigningKeysService, AccessTokensService, SessionsService, RevocationsService],
})
export class TokensModule {}
