import { PassportStrategy } from '@nestjs/passport';
import type { Request } from 'express';
import { Strategy as OpenIDConnectStrategy } from 'passport-openidconnect';
import { pkceChallenge } from '../../../common/crypto.js';
import type { OidcProviderConfig } from '../../../config/config.js';
import type { LoginAttempt, LoginStateStore } from '../../login-state.store.js';
import { IdTokenVerifier } from '../id-token.verifier.js';
import { hardenOAuth2Client, oauth2ClientOf, useClientSecretBasic } from '../oauth2-client.js';
import { attemptOf, newAttempt, oidcStateStore, restoringAttemptOnError } from '../passport-state-stores.js';
import type { ProviderProfile } from '../../../accounts/provider-profile.js';
import { callingDoneOnce, strategyName, type ProviderStrategy } from '../provider-strategy.js';
import { tokenAuthMethod, type OidcMetadata } from './discovery.js';
import { oidcProfile } from './oidc.profile.js';

/**
 * passport-openidconnect 0.1.2 plus what it lacks: PKCE S256 (RFC 7636; sent in the authorization request and the
 * code_verifier added to the token request) and our own nonce; registered under `options.name` (see strategyName):
 * PassportStrategy, given no name, registers a strategy under its own.
 */
class PkceOpenIdConnectStrategy extends OpenIDConnectStrategy {
  constructor(options: Record<string, unknown> & { name: string }, verify: (...args: never[]) => void) {
    super(options as never, callingDoneOnce(verify) as never);
    this.name = options.name;
  }

  override authorizationParams(options: { state?: LoginAttempt }): object {
    const { nonce, pkceVerifier } = newAttempt(options);
    const challenge = pkceChallenge(pkceVerifier!);
    return { nonce, code_challenge: challenge, code_challenge_method: 'S256' };
  }
}

/**
 * One generic OpenID Connect provider (OIDC_PROVIDERS), built once at start-up from its discovery document by
 * OidcModule, under the name `oidc:<id>#n`. Also client_secret_basic at the token endpoint when the provider wants it
 * (see tokenAuthMethod; the library only posts the secret in the form). The library's ID-token checks run on an
 * unverified payload, so validate() checks the raw ID token again with jose (see IdTokenVerifier).
 */
export class OidcStrategy extends PassportStrategy(PkceOpenIdConnectStrategy, undefined, true) implements ProviderStrategy {
  readonly providerId: string;
  readonly issuer: string;
  readonly issuerParamRequired: boolean;
  private readonly rolesClaim?: string;
  private readonly verifier: IdTokenVerifier;
  private readonly loginState: LoginStateStore;

  constructor(cfg: OidcProviderConfig, metadata: OidcMetadata, callbackURL: string, loginState: LoginStateStore, timeoutMs: number) {
    // The token request carries no request object, so the verifier restored at the callback is handed over by code.
    const codeVerifiers = new Map<string, string>();
    super({
      name: strategyName(`oidc:${cfg.id}`),
      issuer: cfg.issuer,
      authorizationURL: metadata.authorization_endpoint,
      tokenURL: metadata.token_endpoint,
      userInfoURL: metadata.userinfo_endpoint,
      clientID: cfg.clientId,
      clientSecret: cfg.clientSecret,
      callbackURL,
      // The library prepends "openid" itself.
      scope: cfg.scopes.filter((s) => s !== 'openid'),
      store: oidcStateStore(loginState, cfg.id, (req, attempt) => {
        if (typeof req.query.code === 'string' && attempt.pkceVerifier) codeVerifiers.set(req.query.code, attempt.pkceVerifier);
      }),
      passReqToCallback: true,
      skipUserProfile: !metadata.userinfo_endpoint,
    });
    this.providerId = cfg.id;
    this.issuer = cfg.issuer;
    // RFC 9207: an OP that always sends `iss` says so, and then a response without one is refused.
    this.issuerParamRequired = metadata.authorization_response_iss_parameter_supported === true;
    this.rolesClaim = cfg.rolesClaim;
    this.loginState = loginState;
    this.verifier = new IdTokenVerifier({
      issuers: [cfg.issuer],
      clientId: cfg.clientId,
      jwksUrl: metadata.jwks_uri,
      algorithms: metadata.id_token_signing_alg_values_supported ?? ['RS256'],
      timeoutMs,
    });
    const client = oauth2ClientOf(this);
    hardenOAuth2Client(client, timeoutMs);
    if (tokenAuthMethod(cfg.id, cfg.tokenAuthMethod, metadata) === 'client_secret_basic') {
      useClientSecretBasic(client, cfg.clientId, cfg.clientSecret);
    }
    const getToken = client.getOAuthAccessToken.bind(client);
    client.getOAuthAccessToken = (code, params, cb) => {
      const codeVerifier = codeVerifiers.get(code);
      codeVerifiers.delete(code);
      getToken(code, codeVerifier ? { ...params, code_verifier: codeVerifier } : params, (err, accessToken, refreshToken, results) => {
        if (!err && !readableIdToken((results as { id_token?: unknown } | undefined)?.id_token)) {
          return cb({ statusCode: 502, data: 'the provider answered with an id_token that is not a JWT of claims' });
        }
        cb(err, accessToken, refreshToken, results);
      });
    };
  }

  override authenticate(req: Request, options?: object): void {
    restoringAttemptOnError(this, req, this.loginState, this.providerId, () => super.authenticate(req, options));
  }

  /**
   * The verified ID token and UserInfo as our profile. Nine parameters (ten with `done`) make passport-openidconnect
   * pass the UserInfo and ID-token profiles apart, and the raw ID token.
   */
  async validate(
    req: Request,
    _issuer: string,
    userinfo: { _json?: Record<string, unknown> } | undefined,
    _idTokenProfile: unknown,
    _context: unknown,
    idToken: string,
    _accessToken: string,
    _refreshToken: string,
    _params: unknown,
  ): Promise<ProviderProfile> {
    const claims = await this.verifier.verify(idToken, attemptOf(req).nonce);
    return oidcProfile(this.providerId, claims, userinfo?._json, this.rolesClaim);
  }
}

/**
 * Whether passport-openidconnect can read an ID token's claims without throwing. It decodes them before anything is
 * verified, in node-oauth's response handler, where a throw is uncaught and ends the process: `split` of an id_token
 * that is not a string, `claims.iss` of a payload that is JSON `null`. An ID token is a JWT whose claims are a JSON
 * object (OIDC Core §2, RFC 7519 §7.2); anything else is the provider's error. A missing one the library reports itself.
 */
function readableIdToken(idToken: unknown): boolean {
  if (idToken === undefined || idToken === null || idToken === '') return true;
  if (typeof idToken !== 'string') return false;
  try {
    // The library decodes with 'base64', which also reads base64url.
    const claims: unknown = JSON.parse(Buffer.from(idToken.split('.')[1] ?? '', 'base64').toString());
    return claims !== null && typeof claims === 'object' && !Array.isArray(claims);
  } catch {
    return false;
  }
}
