import { Inject, Injectable, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import passport from 'passport';
import type { ProviderType } from '../../config/config.js';
import { InjectConfig } from '../../config/config.module.js';
import type { ResolvedConfig } from '../../config/app-secret.js';
import { DomainError } from '../../common/domain-error.js';
import { AppleStrategy } from './apple/apple.strategy.js';
import { MicrosoftStrategy } from './microsoft/microsoft.strategy.js';
import { FacebookStrategy } from './facebook/facebook.strategy.js';
import { GithubStrategy } from './github/github.strategy.js';
import { GoogleStrategy } from './google/google.strategy.js';
import { OAUTH2_STRATEGIES } from './oauth2/oauth2.module.js';
import type { GenericOAuth2Strategy } from './oauth2/oauth2.strategy.js';
import { OIDC_STRATEGIES } from './oidc/oidc.module.js';
import type { OidcStrategy } from './oidc/oidc.strategy.js';
import type { ProviderStrategy } from './provider-strategy.js';

export interface EnabledProvider {
  id: string;
  name: string;
  type: ProviderType;
  /** Its Passport strategy, registered under `strategyName` (the routes run it through their AuthGuard). */
  strategy: ProviderStrategy;
  strategyName: string;
  /** The issuer whose `iss` must come back in the authorization response (RFC 9207), if any. */
  issuer?: string;
  /** True when the provider always sends `iss`, so its absence is refused. */
  issuerParamRequired: boolean;
}

/**
 * The enabled providers, in configuration order, each with the strategy its kind's module built at start-up (a
 * disabled provider has none). An unknown or disabled provider is a 404 (EnabledProviderGuard) before any strategy
 * runs. When the instance closes its strategies leave Passport's registry (see strategyName).
 */
@Injectable()
export class ProviderRegistry implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(ProviderRegistry.name);
  private readonly providers = new Map<string, EnabledProvider>();

  constructor(
    @InjectConfig() config: ResolvedConfig,
    @Inject(GoogleStrategy) google: GoogleStrategy | null,
    @Inject(FacebookStrategy) facebook: FacebookStrategy | null,
    @Inject(OIDC_STRATEGIES) oidc: OidcStrategy[],
    @Inject(GithubStrategy) github: GithubStrategy | null,
    @Inject(OAUTH2_STRATEGIES) oauth2: GenericOAuth2Strategy[],
    @Inject(AppleStrategy) apple: AppleStrategy | null,
    @Inject(MicrosoftStrategy) microsoft: MicrosoftStrategy | null,
  ) {
    const strategies = new Map<string, ProviderStrategy>(
      [google, facebook, ...oidc, apple, microsoft, github, ...oauth2].filter((s) => s !== null).map((s) => [s.providerId, s]),
    );
    for (const { id, name, type } of config.providers) {
      const strategy = strategies.get(id);
      if (!strategy) throw new Error(`sign-in provider "${id}" is enabled but no strategy was built for it`);
      const { issuer, issuerParamRequired } = strategy;
      this.providers.set(id, { id, name, type, strategy, strategyName: strategy.name!, issuer, issuerParamRequired });
    }
  }

  onModuleInit(): void {
    this.logger.log(`sign-in providers: ${[...this.providers.keys()].join(', ') || 'none'}`);
  }

  onModuleDestroy(): void {
    for (const p of this.providers.values()) passport.unuse(p.strategyName);
  }

  list(): EnabledProvider[] {
    return [...this.providers.values()];
  }

  /** An unknown or disabled provider is a 404 before any Passport code runs. */
  get(id: string): EnabledProvider {
    const p = this.providers.get(id);
    if (!p) throw new DomainError('unknown_provider', `no sign-in provider "${id}" is enabled`);
    return p;
  }
}
