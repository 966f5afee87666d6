import { Module } from '@nestjs/common';
import { AccountsModule } from '../accounts/accounts.module.js';
import { AuditModule } from '../audit/audit.module.js';
import { ClientsModule } from '../clients/clients.module.js';
import { TokensModule } from '../tokens/tokens.module.js';
import { AdminUsersController } from './admin-users.controller.js';
import { AdminUsersService } from './admin-users.service.js';
import { ClientsAdminController } from './clients-admin.controller.js';
import { KeysAdminController } from './keys-admin.controller.js';

/** The admin API (`/admin/...`, admins only: @AdminApi): users and the audit trail, API clients, signing keys. */
@Module({
  imports: [AccountsModule, TokensModule, AuditModule, ClientsModule],
  controllers: [AdminUsersController, ClientsAdminController, KeysAdminController],
  providers: [AdminUsersService],
  exports: [AdminUsersService],
})
export class AdminModule {}
