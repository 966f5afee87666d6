import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AuditModule } from '../audit/audit.module.js';
import { AccessTokensService } from './access-tokens.service.js';
import { RefreshToken } from './refresh-token.entity.js';
import { Session } from './session.entity.js';
import { SessionsService } from './sessions.service.js';
import { SigningKey } from './signing-key.entity.js';
import { SigningKeysService } from './signing-keys.service.js';
import { WellKnownController } from './well-known.controller.js';

@Module({
  imports: [TypeOrmModule.forFeature([SigningKey, Session, RefreshToken]), AuditModule],
  controllers: [WellKnownController],
  providers: [SigningKeysService, AccessTokensService, SessionsService],
  exports: [SigningKeysService, AccessTokensService, SessionsService],
})
export class TokensModule {}
