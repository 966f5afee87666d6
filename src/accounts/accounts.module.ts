import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AuditModule } from '../audit/audit.module.js';
import { TokensModule } from '../tokens/tokens.module.js';
import { AccountsService } from './accounts.service.js';
import { Identity } from './identity.entity.js';
import { LastAdminRule } from './last-admin.js';
import { LinkTicket } from './link-ticket.entity.js';
import { User } from './user.entity.js';
import { UsersRepository } from './users.repository.js';

@Module({
  imports: [TypeOrmModule.forFeature([User, Identity, LinkTicket]), AuditModule, TokensModule],
  providers: [AccountsService, LastAdminRule, UsersRepository],
  exports: [AccountsService, LastAdminRule, UsersRepository],
})
export class AccountsModule {}
