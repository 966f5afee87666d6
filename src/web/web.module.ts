import { Module } from '@nestjs/common';
import { AccountsModule } from '../accounts/accounts.module.js';
import { AuthModule } from '../auth/auth.module.js';
import { TokensModule } from '../tokens/tokens.module.js';
import { PageSignInService } from './page-sign-in.service.js';
import { PagesController } from './pages.controller.js';

@Module({ imports: [AuthModule, AccountsModule, TokensModule], controllers: [PagesController], providers: [PageSignInService] })
export class WebModule {}
