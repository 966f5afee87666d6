import { PassportStrategy } from '@nestjs/passport';
import type { Request } from 'express';
import {
  Strategy as GoogleOAuth2Strategy,
  type GoogleCallbackParameters,
  type Profile,
  type StrategyOptionsWithRequest,
  type VerifyCallback,
} from 'passport-google-oauth20';
import type { GoogleProviderConfig } from '../../../config/config.js';
import type { LoginAttempt, LoginStateStore } from '../../login-state.store.js';
import { IdTokenVerifier } from '../id-token.verifier.js';
import { oidcProfile } from '../oidc/oidc.profile.js';
import { checkingTokenResponses } from '../token-response-check.js';
import { hardenOAuth2Client, oauth2ClientOf } from '../oauth2-client.js';
import { attemptOf, newAttempt, oauth2StateStore, restoringAttemptOnError } from '../passport-state-stores.js';
import type { ProviderProfile } from '../../../accounts/provider-profile.js';
import { callingDoneOnce, strategyName, type ProviderStrategy } from '../provider-strategy.js';

type Verify = (req: Request, at: string, rt: string, params: GoogleCallbackParameters, profile: Profile, done: VerifyCallback) => void;

/**
 * passport-google-oauth20 with the OIDC nonce it does not send (OIDC Core §3.1.2.1), registered under `options.name`
 * (see strategyName): PassportStrategy, given no name, registers a strategy under its own.
 */
class GoogleOidcStrategy extends GoogleOAuth2Strategy {
  constructor(options: StrategyOptionsWithRequest & { name: string }, verify: Verify) {
    super(options, callingDoneOnce(verify));
    this.name = options.name;
  }

  override authorizationParams(options: { state?: LoginAttempt }): object {
    return { ...super.authorizationParams(options), nonce: newAttempt(options).nonce };
  }
}

/**
 * Google through passport-google-oauth20, with PKCE S256 and state in our sealed cookie. Google's ID token is verified
 * against its JWKS (issuer always accounts.google.com, even when tests move the endpoints) and UserInfo must agree.
 * Built once at start-up by GoogleModule, only when Google is enabled.
 */
export class GoogleStrategy extends PassportStrategy(GoogleOidcStrategy, undefined, true) implements ProviderStrategy {
  readonly providerId: string;
  readonly issuer: string;
  readonly issuerParamRequired = false;
  private readonly verifier: IdTokenVerifier;
  private readonly loginState: LoginStateStore;

  constructor(cfg: GoogleProviderConfig, callbackURL: string, loginState: LoginStateStore, timeoutMs: number) {
    super({
      name: strategyName(cfg.id),
      clientID: cfg.clientId,
      clientSecret: cfg.clientSecret,
      callbackURL,
      authorizationURL: cfg.authorizationUrl,
      tokenURL: cfg.tokenUrl,
      userProfileURL: cfg.userinfoUrl,
      scope: ['openid', 'email', 'profile'],
      pkce: true,
      state: true,
      store: oauth2StateStore(loginState, cfg.id) as never,
      passReqToCallback: true,
    });
    this.providerId = cfg.id;
    this.issuer = cfg.issuer;
    this.loginState = loginState;
    this.verifier = new IdTokenVerifier({
      issuers: [cfg.issuer, cfg.issuer.replace(/^https:\/\//, '')],
      clientId: cfg.clientId,
      jwksUrl: cfg.jwksUrl,
      algorithms: ['RS256'],
      timeoutMs,
    });
    hardenOAuth2Client(oauth2ClientOf(this), timeoutMs);
    checkingTokenResponses(oauth2ClientOf(this));
  }

  override authenticate(req: Request, options?: object): void {
    restoringAttemptOnError(this, req, this.loginState, this.providerId, () => super.authenticate(req, options));
  }

  /**
   * The verified ID token and UserInfo as our profile. Five parameters (six with `done`) make passport-oauth2 pass the
   * token response `params`, which carries the id_token.
   */
  async validate(
    req: Request,
    _accessToken: string,
    _refreshToken: string,
    params: GoogleCallbackParameters,
    profile: Profile,
  ): Promise<ProviderProfile> {
    const claims = await this.verifier.verify(params.id_token, attemptOf(req).nonce);
    return oidcProfile(this.providerId, claims, profile._json as Record<string, unknown>);
  }
}
