import { Module } from '@nestjs/common';
import { AppleModule } from './apple/apple.module.js';
import { MicrosoftModule } from './microsoft/microsoft.module.js';
import { FacebookModule } from './facebook/facebook.module.js';
import { GithubModule } from './github/github.module.js';
import { GoogleModule } from './google/google.module.js';
import { LoginStateModule } from './login-state.module.js';
import { OAuth2Module } from './oauth2/oauth2.module.js';
import { OidcModule } from './oidc/oidc.module.js';
import { ProviderRegistry } from './provider-registry.js';

/** The sign-in providers: one Passport strategy per enabled provider, from its kind's module, and their registry. */
@Module({
  imports: [LoginStateModule, GoogleModule, FacebookModule, OidcModule, AppleModule, MicrosoftModule, GithubModule, OAuth2Module],
  providers: [ProviderRegistry],
  exports: [ProviderRegistry, LoginStateModule],
})
export class ProvidersModule {}
