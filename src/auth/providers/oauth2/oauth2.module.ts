import { Module } from '@nestjs/common';
import type { ResolvedConfig } from '../../../config/app-secret.js';
import type { OAuth2ProviderConfig } from '../../../config/config.js';
import { APP_CONFIG } from '../../../config/config.module.js';
import { LoginStateStore } from '../../login-state.store.js';
import { LoginStateModule } from '../login-state.module.js';
import { callbackUrl } from '../provider-strategy.js';
import { GenericOAuth2Strategy } from './oauth2.strategy.js';

/** The strategies of the generic OAuth 2.0 providers, one per OAUTH_PROVIDERS id. */
export const OAUTH2_STRATEGIES = Symbol('OAUTH2_STRATEGIES');

/** Built once at start-up from configuration alone (plain OAuth 2.0 has no discovery). */
@Module({
  imports: [LoginStateModule],
  providers: [
    {
      provide: OAUTH2_STRATEGIES,
      inject: [APP_CONFIG, LoginStateStore],
      useFactory: (config: ResolvedConfig, loginState: LoginStateStore): GenericOAuth2Strategy[] =>
        config.providers
          .filter((p): p is OAuth2ProviderConfig => p.type === 'oauth2')
          .map((p) => new GenericOAuth2Strategy(p, callbackUrl(config.publicUrl, p.id), loginState, config.providerTimeoutMs)),
    },
  ],
  exports: [OAUTH2_STRATEGIES],
})
export class OAuth2Module {}
