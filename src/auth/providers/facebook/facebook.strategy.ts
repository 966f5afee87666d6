import { PassportStrategy } from '@nestjs/passport';
import type { Request } from 'express';
import {
  Strategy as FacebookOAuth2Strategy,
  type Profile,
  type StrategyOptionsWithRequest,
  type VerifyFunctionWithRequest,
} from 'passport-facebook';
import type { FacebookProviderConfig } from '../../../config/config.js';
import type { LoginStateStore } from '../../login-state.store.js';
import { checkingTokenResponses } from '../token-response-check.js';
import { hardenOAuth2Client, oauth2ClientOf } from '../oauth2-client.js';
import { oauth2StateStore, restoringAttemptOnError } from '../passport-state-stores.js';
import type { ProviderProfile } from '../../../accounts/provider-profile.js';
import { callingDoneOnce, strategyName, type ProviderStrategy } from '../provider-strategy.js';
import { facebookProfile } from './facebook.profile.js';

/**
 * passport-facebook registered under `options.name` (see strategyName): PassportStrategy, given no name, registers a
 * strategy under its own.
 */
class NamedFacebookStrategy extends FacebookOAuth2Strategy {
  constructor(options: StrategyOptionsWithRequest & { name: string }, verify: VerifyFunctionWithRequest) {
    super(options, callingDoneOnce(verify));
    this.name = options.name;
  }
}

/**
 * Facebook through passport-facebook: a pinned Graph version (the library alone would use v3.2), `appsecret_proof`
 * on Graph calls, PKCE S256, and the email optional (people may decline that permission). Built once at start-up by
 * FacebookModule, only when Facebook is enabled.
 */
export class FacebookStrategy extends PassportStrategy(NamedFacebookStrategy, undefined, true) implements ProviderStrategy {
  readonly providerId: string;
  readonly issuerParamRequired = false;
  private readonly loginState: LoginStateStore;

  constructor(cfg: FacebookProviderConfig, callbackURL: string, loginState: LoginStateStore, timeoutMs: number) {
    super({
      name: strategyName(cfg.id),
      clientID: cfg.clientId,
      clientSecret: cfg.clientSecret,
      callbackURL,
      graphAPIVersion: cfg.graphVersion,
      authorizationURL: cfg.authorizationUrl,
      tokenURL: cfg.tokenUrl,
      profileURL: cfg.profileUrl,
      profileFields: ['id', 'displayName', 'emails', 'photos'],
      scope: ['public_profile', 'email'],
      enableProof: true,
      pkce: true,
      state: true,
      store: oauth2StateStore(loginState, cfg.id),
      passReqToCallback: true,
    } as never);
    this.providerId = cfg.id;
    this.loginState = loginState;
    hardenOAuth2Client(oauth2ClientOf(this), timeoutMs);
    checkingTokenResponses(oauth2ClientOf(this));
  }

  override authenticate(req: Request, options?: object): void {
    restoringAttemptOnError(this, req, this.loginState, this.providerId, () => super.authenticate(req, options));
  }

  /**
   * Graph `/me` as our profile; a mapping failure (no usable id, a Graph error with HTTP 200) is the sign-in's error.
   * Only the mapping is here: PassportStrategy hands the result or the error to `done`, once (callingDoneOnce; the
   * e2e test "the Facebook verify callback calls done exactly once").
   */
  validate(_req: Request, _accessToken: string, _refreshToken: string, profile: Profile): ProviderProfile {
    return facebookProfile(profile._json as Record<string, unknown>);
  }
}
