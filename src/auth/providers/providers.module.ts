import { Module } from '@nestjs/common';
import { FacebookModule } from './facebook/facebook.module.js';
import { GoogleModule } from './google/google.module.js';
import { LoginStateModule } from './login-state.module.js';
import { OidcModule } from './oidc/oidc.module.js';
import { ProviderRegistry } from './provider-registry.js';

/** The sign-in providers: one Passport strategy per enabled provider, from its kind's module, and their registry. */
@Module({
  imports: [LoginStateModule, GoogleModule, FacebookModule, OidcModule],
  providers: [ProviderRegistry],
  exports: [ProviderRegistry, LoginStateModule],
})
export class ProvidersModule {}
