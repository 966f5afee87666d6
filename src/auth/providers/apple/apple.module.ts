import { Module } from '@nestjs/common';
import { Clock } from '../../../common/clock.js';
import type { ResolvedConfig } from '../../../config/app-secret.js';
import type { AppleProviderConfig } from '../../../config/config.js';
import { APP_CONFIG } from '../../../config/config.module.js';
import { LoginStateStore } from '../../login-state.store.js';
import { LoginStateModule } from '../login-state.module.js';
import { callbackUrl } from '../provider-strategy.js';
import { AppleStrategy } from './apple.strategy.js';

/** Sign in with Apple's strategy, built once at start-up; null when Apple is not enabled (no APPLE_CLIENT_ID). */
@Module({
  imports: [LoginStateModule],
  providers: [
    {
      provide: AppleStrategy,
      inject: [APP_CONFIG, LoginStateStore, Clock],
      useFactory: (config: ResolvedConfig, loginState: LoginStateStore, clock: Clock): AppleStrategy | null => {
        const apple = config.providers.find((p): p is AppleProviderConfig => p.type === 'apple');
        if (!apple) return null;
        return new AppleStrategy(apple, callbackUrl(config.publicUrl, apple.id), loginState, config.providerTimeoutMs, clock);
      },
    },
  ],
  exports: [AppleStrategy],
})
export class AppleModule {}
