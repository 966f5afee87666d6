import { Module } from '@nestjs/common';
import { AccountsModule } from '../accounts/accounts.module.js';
import { AuthModule } from '../auth/auth.module.js';
import { TokensModule } from '../tokens/tokens.module.js';
import { LinkController } from './link.controller.js';
import { MeController } from './me.controller.js';

/** The signed-in person's own API (`/me`): profile, identities (unlink, and link through a sign-in), sessions. */
@Module({
  imports: [AccountsModule, TokensModule, AuthModule],
  controllers: [MeController, LinkController],
})
export class MeModule {}
