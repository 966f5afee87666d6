import { Module } from '@nestjs/common';
import type { ResolvedConfig } from '../../../config/app-secret.js';
import type { FacebookProviderConfig } from '../../../config/config.js';
import { APP_CONFIG } from '../../../config/config.module.js';
import { LoginStateStore } from '../../login-state.store.js';
import { LoginStateModule } from '../login-state.module.js';
import { callbackUrl } from '../provider-strategy.js';
import { FacebookStrategy } from './facebook.strategy.js';

/** Facebook's strategy, built once at start-up; null when Facebook is not enabled (no FACEBOOK_CLIENT_ID). */
@Module({
  imports: [LoginStateModule],
  providers: [
    {
      provide: FacebookStrategy,
      inject: [APP_CONFIG, LoginStateStore],
      useFactory: (config: ResolvedConfig, loginState: LoginStateStore): FacebookStrategy | null => {
        const facebook = config.providers.find((p): p is FacebookProviderConfig => p.type === 'facebook');
        if (!facebook) return null;
        return new FacebookStrategy(facebook, callbackUrl(config.publicUrl, facebook.id), loginState, config.providerTimeoutMs);
      },
    },
  ],
  exports: [FacebookStrategy],
})
export class FacebookModule {}
