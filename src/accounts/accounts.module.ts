import { Module } from '@nestjs/common';
import { AuditModule } from '../audit/audit.module.js';
import { TokensModule } from '../tokens/tokens.module.js';
import { AccountsService } from './accounts.service.js';
import { LastAdminRule } from './last-admin.js';
import { MeController } from './me.controller.js';
import { UsersRepository } from './users.repository.js';

@Module({
  imports: [AuditModule, TokensModule],
  controllers: [MeController],
  providers: [AccountsService, LastAdminRule, UsersRepository],
  exports: [AccountsService, LastAdminRule, UsersRepository],
})
export class AccountsModule {}
