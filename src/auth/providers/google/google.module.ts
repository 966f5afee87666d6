import { Module } from '@nestjs/common';
import type { ResolvedConfig } from '../../../config/app-secret.js';
import type { GoogleProviderConfig } from '../../../config/config.js';
import { APP_CONFIG } from '../../../config/config.module.js';
import { LoginStateStore } from '../../login-state.store.js';
import { LoginStateModule } from '../login-state.module.js';
import { callbackUrl } from '../provider-strategy.js';
import { GoogleStrategy } from './google.strategy.js';

/** Google's strategy, built once at start-up; null when Google is not enabled (no GOOGLE_CLIENT_ID). */
@Module({
  imports: [LoginStateModule],
  providers: [
    {
      provide: GoogleStrategy,
      inject: [APP_CONFIG, LoginStateStore],
      useFactory: (config: ResolvedConfig, loginState: LoginStateStore): GoogleStrategy | null => {
        const google = config.providers.find((p): p is GoogleProviderConfig => p.type === 'google');
        if (!google) return null;
        return new GoogleStrategy(google, callbackUrl(config.publicUrl, google.id), loginState, config.providerTimeoutMs);
      },
    },
  ],
  exports: [GoogleStrategy],
})
export class GoogleModule {}
