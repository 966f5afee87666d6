import { PassportStrategy } from '@nestjs/passport';
import type { Request } from 'express';
import { decodeJwt } from 'jose';
import { Strategy as OAuth2Strategy, type StrategyOptionsWithRequest, type VerifyFunctionWithRequest } from 'passport-oauth2';
import { DomainError } from '../../../common/domain-error.js';
import { isTenantId, type MicrosoftProviderConfig } from '../../../config/config.js';
import type { ProviderProfile } from '../../../accounts/provider-profile.js';
import type { LoginAttempt, LoginStateStore } from '../../login-state.store.js';
import { IdTokenVerifier } from '../id-token.verifier.js';
import { checkingTokenResponses } from '../token-response-check.js';
import { hardenOAuth2Client, oauth2ClientOf } from '../oauth2-client.js';
import { attemptOf, newAttempt, oauth2StateStore, restoringAttemptOnError } from '../passport-state-stores.js';
import { callingDoneOnce, strategyName, type ProviderStrategy } from '../provider-strategy.js';
import { microsoftIssuer, microsoftProfile, tenantRefusal } from './microsoft.profile.js';

/** passport-oauth2 with the OIDC nonce (OIDC Core §3.1.2.1); PKCE S256 from passport-oauth2 (`pkce: true`). */
class MicrosoftOAuth2Strategy extends OAuth2Strategy {
  constructor(options: StrategyOptionsWithRequest & { name: string }, verify: VerifyFunctionWithRequest) {
    super(options, callingDoneOnce(verify));
    this.name = options.name;
  }

  override authorizationParams(options: { state?: LoginAttempt }): object {
    return { nonce: newAttempt(options).nonce };
  }
}

const refused = (why: string) => new DomainError('invalid_id_token', `the provider's ID token was refused: ${why}`);

/**
 * Microsoft Entra ID v2 (work, school and personal accounts). Nothing is discovered: the endpoints are built from
 * MICROSOFT_TENANT (or overridden). The ID token is verified against the JWKS with the issuer its own `tid` makes
 * (microsoftIssuer): a token of tenant A carrying tenant B's `iss` is refused. Then the tenant must be admitted
 * (tenantRefusal → tenant_not_allowed). Built once at start-up by MicrosoftModule.
 */
export class MicrosoftStrategy extends PassportStrategy(MicrosoftOAuth2Strategy, undefined, true) implements ProviderStrategy {
  readonly providerId: string;
  /** No fixed issuer: it is per tenant, and Entra sends no `iss` in the authorization response (RFC 9207). */
  readonly issuer = undefined;
  readonly issuerParamRequired = false;
  private readonly verifier: IdTokenVerifier;
  private readonly loginState: LoginStateStore;

  constructor(
    private readonly cfg: MicrosoftProviderConfig,
    callbackURL: string,
    loginState: LoginStateStore,
    timeoutMs: number,
  ) {
    super({
      name: strategyName(cfg.id),
      clientID: cfg.clientId,
      clientSecret: cfg.clientSecret,
      callbackURL,
      authorizationURL: cfg.authorizationUrl,
      tokenURL: cfg.tokenUrl,
      scope: ['openid', 'email', 'profile'],
      pkce: true,
      state: true,
      store: oauth2StateStore(loginState, cfg.id) as never,
      passReqToCallback: true,
      skipUserProfile: true,
    });
    this.providerId = cfg.id;
    this.loginState = loginState;
    this.verifier = new IdTokenVerifier({
      issuers: [],
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

  /** Five parameters (six with `done`) make passport-oauth2 pass the token response, which carries the id_token. */
  async validate(
    req: Request,
    _accessToken: string,
    _refreshToken: string,
    params: { id_token?: unknown },
    _profile: unknown,
  ): Promise<ProviderProfile> {
    // The issuer to expect is read from the token before it is verified, then verified with everything else: the
    // signature covers `tid`, and `iss` must be exactly the template filled in with it.
    let tid: unknown;
    try {
      tid = typeof params.id_token === 'string' ? decodeJwt(params.id_token).tid : undefined;
    } catch {
      throw refused('it is not a JWT');
    }
    if (!isTenantId(tid)) throw refused('its tid is not a tenant id');
    const claims = await this.verifier.verify(params.id_token, attemptOf(req).nonce, [microsoftIssuer(tid)]);
    const refusal = tenantRefusal(this.cfg, tid);
    if (refusal) throw new DomainError('tenant_not_allowed', `accounts of tenant ${tid} may not sign in here: ${refusal}`);
    return microsoftProfile(this.providerId, claims);
  }
}
