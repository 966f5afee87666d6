import { Module } from '@nestjs/common';
import type { ResolvedConfig } from '../../../config/app-secret.js';
import type { MicrosoftProviderConfig } from '../../../config/config.js';
import { APP_CONFIG } from '../../../config/config.module.js';
import { LoginStateStore } from '../../login-state.store.js';
import { LoginStateModule } from '../login-state.module.js';
import { callbackUrl } from '../provider-strategy.js';
import { MicrosoftStrategy } from './microsoft.strategy.js';

/** Microsoft Entra ID's strategy, built once at start-up; null when Microsoft is not enabled (no MICROSOFT_CLIENT_ID). */
@Module({
  imports: [LoginStateModule],
  providers: [
    {
      provide: MicrosoftStrategy,
      inject: [APP_CONFIG, LoginStateStore],
      useFactory: (config: ResolvedConfig, loginState: LoginStateStore): MicrosoftStrategy | null => {
        const microsoft = config.providers.find((p): p is MicrosoftProviderConfig => p.type === 'microsoft');
        if (!microsoft) return null;
        return new MicrosoftStrategy(microsoft, callbackUrl(config.publicUrl, microsoft.id), loginState, config.providerTimeoutMs);
      },
    },
  ],
  exports: [MicrosoftStrategy],
})
export class MicrosoftModule {}
