import { PassportStrategy } from '@nestjs/passport';
import type { Request } from 'express';
import { Strategy as OAuth2Strategy, type StrategyOptionsWithRequest, type VerifyFunctionWithRequest } from 'passport-oauth2';
import type { Clock } from '../../../common/clock.js';
import type { AppleProviderConfig } from '../../../config/config.js';
import type { ProviderProfile } from '../../../accounts/provider-profile.js';
import type { LoginAttempt, LoginStateStore } from '../../login-state.store.js';
import { IdTokenVerifier } from '../id-token.verifier.js';
import { checkingTokenResponses } from '../token-response-check.js';
import { hardenOAuth2Client, oauth2ClientOf, type OAuth2Client } from '../oauth2-client.js';
import { attemptOf, newAttempt, oauth2StateStore, restoringAttemptOnError } from '../passport-state-stores.js';
import { callingDoneOnce, strategyName, type ProviderStrategy } from '../provider-strategy.js';
import { AppleClientSecret } from './apple-client-secret.js';
import { appleProfile } from './apple.profile.js';

/**
 * passport-oauth2 with what Sign in with Apple needs in the authorization request: `response_mode=form_post` (Apple
 * requires it whenever `name` or `email` is asked for, so the response is a cross-site POST to the callback: see
 * FormPostCallbackController) and the OIDC nonce (OIDC Core §3.1.2.1), which Apple puts in its ID token. PKCE S256
 * comes from passport-oauth2 (`pkce: true`); Apple checks the verifier when the request carried a challenge.
 */
class AppleOAuth2Strategy extends OAuth2Strategy {
  constructor(options: StrategyOptionsWithRequest & { name: string }, verify: VerifyFunctionWithRequest) {
    super(options, callingDoneOnce(verify));
    this.name = options.name;
  }

  override authorizationParams(options: { state?: LoginAttempt }): object {
    return { nonce: newAttempt(options).nonce, response_mode: 'form_post' };
  }
}

/**
 * The token request carries a client secret Apple accepts only as a fresh ES256 JWT of ours (AppleClientSecret):
 * node-oauth posts the static `client_secret` it was built with, so the form is rewritten on its way out.
 */
function useAppleClientSecret(client: OAuth2Client, secret: AppleClientSecret): void {
  const request = client._request.bind(client);
  client._request = (method, url, headers, body, accessToken, cb) => {
    if (method !== 'POST' || url !== client._getAccessTokenUrl()) return request(method, url, headers, body, accessToken, cb);
    secret.current().then(
      (jwt) => {
        const form = new URLSearchParams(body);
        form.set('client_secret', jwt);
        request(method, url, headers, form.toString(), accessToken, cb);
      },
      (e: unknown) => cb(e),
    );
  };
}

/**
 * Sign in with Apple. Nothing is discovered: the endpoints are Apple's (or the overrides), the issuer always
 * https://appleid.apple.com. There is no UserInfo endpoint; every claim comes from the verified ID token, and the name
 * from the first callback's unsigned `user` field (appleProfile). Built once at start-up by AppleModule.
 */
export class AppleStrategy extends PassportStrategy(AppleOAuth2Strategy, undefined, true) implements ProviderStrategy {
  readonly providerId: string;
  readonly issuer: string;
  readonly issuerParamRequired = false;
  readonly responseMode = 'form_post' as const;
  private readonly verifier: IdTokenVerifier;
  private readonly loginState: LoginStateStore;

  constructor(cfg: AppleProviderConfig, callbackURL: string, loginState: LoginStateStore, timeoutMs: number, clock: Clock) {
    super({
      name: strategyName(cfg.id),
      clientID: cfg.clientId,
      // Replaced in every token request by a signed one (useAppleClientSecret); never sent as it is.
      clientSecret: 'signed-per-request',
      callbackURL,
      authorizationURL: cfg.authorizationUrl,
      tokenURL: cfg.tokenUrl,
      // Apple's scopes; it issues an ID token without `openid` being asked for.
      scope: ['name', 'email'],
      pkce: true,
      state: true,
      store: oauth2StateStore(loginState, cfg.id) as never,
      passReqToCallback: true,
      skipUserProfile: true,
    });
    this.providerId = cfg.id;
    this.issuer = cfg.issuer;
    this.loginState = loginState;
    this.verifier = new IdTokenVerifier({
      issuers: [cfg.issuer],
      clientId: cfg.clientId,
      jwksUrl: cfg.jwksUrl,
      algorithms: ['RS256'],
      timeoutMs,
    });
    const client = oauth2ClientOf(this);
    hardenOAuth2Client(client, timeoutMs);
    checkingTokenResponses(client);
    useAppleClientSecret(client, new AppleClientSecret(cfg, clock));
  }

  override authenticate(req: Request, options?: object): void {
    const query = req.query as Record<string, unknown>;
    // Apple's word for a person who pressed Cancel; passport-oauth2 and SignInService know RFC 6749's access_denied.
    if (query.error === 'user_cancelled_authorize') {
      query.error = 'access_denied';
      query.error_description ??= 'user_cancelled_authorize';
    }
    restoringAttemptOnError(this, req, this.loginState, this.providerId, () => super.authenticate(req, options));
  }

  /** Five parameters (six with `done`) make passport-oauth2 pass the token response, which carries the id_token. */
  async validate(
    req: Request,
    _accessToken: string,
    _refreshToken: string,
    params: { id_token?: unknown },
    _profile: unknown,
  ): Promise<ProviderProfile> {
    const claims = await this.verifier.verify(params.id_token, attemptOf(req).nonce);
    return appleProfile(this.providerId, claims, (req.query as Record<string, unknown>).user);
  }
}
