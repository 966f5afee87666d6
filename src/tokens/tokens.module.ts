import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AuditModule } from '../audit/audit.module.js';
import { AccessTokensService } from './access-tokens.service.js';
import { RefreshToken } from './refresh-token.entity.js';
import { Revocation } from './revocation.entity.js';
import { RevocationsRepository } from './revocations.repository.js';
import { RevocationsService } from './revocations.service.js';
import { Session } from './session.entity.js';
import { SessionsRepository } from './sessions.repository.js';
import { SessionsService } from './sessions.service.js';
import { SigningKey } from './signing-key.entity.js';
import { SigningKeysRepository } from './signing-keys.repository.js';
import { SigningKeysService } from './signing-keys.service.js';
import { WellKnownController } from './well-known.controller.js';
import { RevocationFeedController } from './revocation-feed.controller.js';

@Module({
  imports: [TypeOrmModule.forFeature([SigningKey, Session, RefreshToken, Revocation]), AuditModule],
  controllers: [WellKnownController, RevocationFeedController],
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
