import { Module } from '@nestjs/common';
import { AuditModule } from '../audit/audit.module.js';
import { TokensModule } from '../tokens/tokens.module.js';
import { ClientsService } from './clients.service.js';

@Module({
  imports: [TokensModule, AuditModule],
  providers: [ClientsService],
  exports: [ClientsService],
})
export class ClientsModule {}
