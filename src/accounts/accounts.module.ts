import { Module } from '@nestjs/common';
import { AuditModule } from '../audit/audit.module.js';
import { TokensModule } from '../tokens/tokens.module.js';
import { AccountsService } from './accounts.service.js';
import { LastAdminRule } from './last-admin.js';

@Module({
  imports: [AuditModule, TokensModule],
  providers: [AccountsService, LastAdminRule],
  exports: [AccountsService, LastAdminRule],
})
export class AccountsModule {}
