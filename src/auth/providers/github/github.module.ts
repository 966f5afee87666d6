import { Module } from '@nestjs/common';
import type { ResolvedConfig } from '../../../config/app-secret.js';
import type { GithubProviderConfig } from '../../../config/config.js';
import { APP_CONFIG } from '../../../config/config.module.js';
import { LoginStateStore } from '../../login-state.store.js';
import { LoginStateModule } from '../login-state.module.js';
import { callbackUrl } from '../provider-strategy.js';
import { GithubStrategy } from './github.strategy.js';

/** GitHub's strategy, built once at start-up; null when GitHub is not enabled (no GITHUB_CLIENT_ID). */
@Module({
  imports: [LoginStateModule],
  providers: [
    {
      provide: GithubStrategy,
      inject: [APP_CONFIG, LoginStateStore],
      useFactory: (config: ResolvedConfig, loginState: LoginStateStore): GithubStrategy | null => {
        const github = config.providers.find((p): p is GithubProviderConfig => p.type === 'github');
        if (!github) return null;
        return new GithubStrategy(github, callbackUrl(config.publicUrl, github.id), loginState, config.providerTimeoutMs);
      },
    },
  ],
  exports: [GithubStrategy],
})
export class GithubModule {}
