import type { Request } from 'express';
import type { OAuth2ProviderConfig, ProfileFieldMapping } from '../../../config/oauth-providers.js';
import type { LoginStateStore } from '../../login-state.store.js';
import type { ProviderProfile } from '../../../accounts/provider-profile.js';
import { PlainOAuth2Strategy } from '../plain-oauth2.strategy.js';
import { oauth2Profile } from './oauth2.profile.js';

/**
 * One generic OAuth 2.0 provider (OAUTH_PROVIDERS): its endpoints, scopes, token authentication and PKCE as
 * configured, its UserInfo answer mapped field by field (oauth2Profile). Built once at start-up by OAuth2Module, under
 * the name `oauth2:<id>#n`.
 */
export class GenericOAuth2Strategy extends PlainOAuth2Strategy {
  private readonly userinfoUrl: string;
  private readonly fields: ProfileFieldMapping;

  constructor(cfg: OAuth2ProviderConfig, callbackURL: string, loginState: LoginStateStore, timeoutMs: number) {
    super(
      {
        id: cfg.id,
        strategyBase: `oauth2:${cfg.id}`,
        clientId: cfg.clientId,
        clientSecret: cfg.clientSecret,
        authorizationUrl: cfg.authorizationUrl,
        tokenUrl: cfg.tokenUrl,
        scopes: cfg.scopes,
        pkce: cfg.pkce,
        tokenAuthMethod: cfg.tokenAuthMethod,
      },
      callbackURL,
      loginState,
      timeoutMs,
    );
    this.userinfoUrl = cfg.userinfoUrl;
    this.fields = cfg.fields;
  }

  protected profileJson(accessToken: string): Promise<unknown> {
    return this.getJson(this.userinfoUrl, accessToken, { Accept: 'application/json' }, 'the user profile');
  }

  validate(_req: Request, _accessToken: string, _refreshToken: string, userinfo: unknown): ProviderProfile {
    return oauth2Profile(this.providerId, this.fields, userinfo);
  }
}
