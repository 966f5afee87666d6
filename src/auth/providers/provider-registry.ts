import { Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import type { Strategy } from 'passport';
import type { ProviderConfig, ProviderType } from '../../config/config.js';
import { InjectConfig } from '../../config/config.module.js';
import type { ResolvedConfig } from '../../config/app-secret.js';
import { DomainError } from '../../common/domain-error.js';
import { LoginStateStore } from '../login-state.store.js';
import { createFacebookStrategy } from './facebook/facebook.strategy.js';
import { createGoogleStrategy } from './google/google.strategy.js';
import { demoMetadata, discover } from './oidc/discovery.js';
import { createOidcStrategy } from './oidc/oidc.strategy.js';
import { restoringAttemptOnError } from './passport-state-stores.js';

export interface EnabledProvider {
  id: string;
  name: string;
  type: ProviderType;
  strategy: Strategy;
  /** The issuer whose `iss` must come back in the authorization response (RFC 9207), if any. */
  issuer?: string;
  /** True when the provider always sends `iss`, so its absence is refused. */
  issuerParamRequired: boolean;
}

/**
 * Builds one Passport strategy per enabled provider, once, at start-up (generic OIDC providers after discovery).
 * Strategies are kept here, not registered with the global passport instance.
 */
@Injectable()
export class ProviderRegistry implements OnModuleInit {
  private readonly logger = new Logger(ProviderRegistry.name);
  private readonly providers = new Map<string, EnabledProvider>();

  constructor(
    @InjectConfig() private readonly config: ResolvedConfig,
    private readonly store: LoginStateStore,
  ) {}

  async onModuleInit(): Promise<void> {
    const built = await Promise.all(this.config.providers.map((p) => this.build(p)));
    for (const p of built) this.providers.set(p.id, p);
    this.logger.log(`sign-in providers: ${built.map((p) => p.id).join(', ') || 'none'}`);
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

  callbackUrl(id: string): string {
    // Always from PUBLIC_URL, never from Host or X-Forwarded-Host (SECURITY.md F4).
    return `${this.config.publicUrl}/auth/${id}/callback`;
  }

  private async build(p: ProviderConfig): Promise<EnabledProvider> {
    const built = await this.buildStrategy(p);
    return { ...built, strategy: restoringAttemptOnError(built.strategy, this.store, p.id) };
  }

  private async buildStrategy(p: ProviderConfig): Promise<EnabledProvider> {
    const base = { id: p.id, name: p.name, type: p.type };
    const callback = this.callbackUrl(p.id);
    const timeout = this.config.providerTimeoutMs;
    switch (p.type) {
      case 'google':
        return { ...base, strategy: createGoogleStrategy(p, callback, this.store, timeout), issuer: p.issuer, issuerParamRequired: false };
      case 'facebook':
        return { ...base, strategy: createFacebookStrategy(p, callback, this.store, timeout), issuerParamRequired: false };
      case 'oidc': {
        const metadata = p.demo ? demoMetadata(p.issuer) : await discover(p.id, p.issuer);
        return {
          ...base,
          strategy: createOidcStrategy(p, metadata, callback, this.store, timeout),
          issuer: p.issuer,
          issuerParamRequired: metadata.authorization_response_iss_parameter_supported === true,
        };
      }
    }
  }
}
