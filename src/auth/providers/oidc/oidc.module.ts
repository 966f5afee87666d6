import { Module } from '@nestjs/common';
import type { ResolvedConfig } from '../../../config/app-secret.js';
import type { OidcProviderConfig } from '../../../config/config.js';
import { APP_CONFIG } from '../../../config/config.module.js';
import { LoginStateStore } from '../../login-state.store.js';
import { LoginStateModule } from '../login-state.module.js';
import { callbackUrl } from '../provider-strategy.js';
import { demoMetadata, discover } from './discovery.js';
import { OidcStrategy } from './oidc.strategy.js';

/** The strategies of the generic OpenID Connect providers, one per OIDC_PROVIDERS id (and the demo provider's). */
export const OIDC_STRATEGIES = Symbol('OIDC_STRATEGIES');

/**
 * Built once at start-up, after every provider's discovery (all at once; one that fails is a start-up error naming
 * the provider).
 */
@Module({
  imports: [LoginStateModule],
  providers: [
    {
      provide: OIDC_STRATEGIES,
      inject: [APP_CONFIG, LoginStateStore],
      useFactory: async (config: ResolvedConfig, loginState: LoginStateStore): Promise<OidcStrategy[]> => {
        const providers = config.providers.filter((p): p is OidcProviderConfig => p.type === 'oidc');
        const metadata = await Promise.all(providers.map((p) => (p.demo ? demoMetadata(p.issuer) : discover(p.id, p.issuer))));
        return providers.map(
          (p, i) => new OidcStrategy(p, metadata[i], callbackUrl(config.publicUrl, p.id), loginState, config.providerTimeoutMs),
        );
      },
    },
  ],
  exports: [OIDC_STRATEGIES],
})
export class OidcModule {}
