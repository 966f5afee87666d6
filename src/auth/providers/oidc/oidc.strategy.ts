import { pkceChallenge } from '../../../common/crypto.js';
import type { Request } from 'express';
import { Strategy as OpenIDConnectStrategy } from 'passport-openidconnect';
import type { OidcProviderConfig } from '../../../config/config.js';
import type { LoginAttempt, LoginStateStore } from '../../login-state.store.js';
import { IdTokenVerifier } from '../id-token.verifier.js';
import { hardenOAuth2Client, oauth2ClientOf, useClientSecretBasic } from '../oauth2-client.js';
import { attemptOf, oidcStateStore } from '../passport-state-stores.js';
import { tokenAuthMethod, type OidcMetadata } from './discovery.js';
import { oidcProfile } from './oidc.profile.js';

type Done = (err: unknown, user?: Express.User) => void;

/**
 * passport-openidconnect 0.1.2 plus what it lacks: PKCE S256 (RFC 7636; sent in the authorization request and the
 * code_verifier added to the token request), our own nonce, and client_secret_basic at the token endpoint when the
 * provider wants it (see tokenAuthMethod; the library only posts the secret in the form). Its ID-token checks run on an unverified payload, so
 * the verify step checks the raw ID token again with jose (see IdTokenVerifier).
 */
class PkceOpenIdConnectStrategy extends OpenIDConnectStrategy {
  override authorizationParams(options: { state: LoginAttempt }): object {
    const { nonce, pkceVerifier } = options.state;
    const challenge = pkceChallenge(pkceVerifier!);
    return { nonce, code_challenge: challenge, code_challenge_method: 'S256' };
  }
}

export function createOidcStrategy(
  cfg: OidcProviderConfig,
  metadata: OidcMetadata,
  callbackURL: string,
  store: LoginStateStore,
  timeoutMs: number,
) {
  const verifier = new IdTokenVerifier({
    issuers: [cfg.issuer],
    clientId: cfg.clientId,
    jwksUrl: metadata.jwks_uri,
    algorithms: metadata.id_token_signing_alg_values_supported ?? ['RS256'],
    timeoutMs,
  });
  // The token request carries no request object, so the verifier restored at the callback is handed over by code.
  const verifiers = new Map<string, string>();
  const strategy = new PkceOpenIdConnectStrategy(
    {
      issuer: cfg.issuer,
      authorizationURL: metadata.authorization_endpoint,
      tokenURL: metadata.token_endpoint,
      userInfoURL: metadata.userinfo_endpoint,
      clientID: cfg.clientId,
      clientSecret: cfg.clientSecret,
      callbackURL,
      // The library prepends "openid" itself.
      scope: cfg.scopes.filter((s) => s !== 'openid'),
      store: oidcStateStore(store, cfg.id, (req, attempt) => {
        if (typeof req.query.code === 'string' && attempt.pkceVerifier) verifiers.set(req.query.code, attempt.pkceVerifier);
      }) as never,
      passReqToCallback: true,
      skipUserProfile: !metadata.userinfo_endpoint,
    } as never,
    // Arity 10: UserInfo and ID-token profiles apart, plus the raw ID token.
    ((
      req: Request,
      _iss: string,
      uiProfile: { _json?: Record<string, unknown> } | undefined,
      _idProfile: unknown,
      _context: unknown,
      idToken: string,
      _accessToken: string,
      _refreshToken: string,
      _params: unknown,
      done: Done,
    ) => {
      verifier
        .verify(idToken, attemptOf(req).nonce)
        .then((claims) => done(null, oidcProfile(cfg.id, claims, uiProfile?._json, cfg.rolesClaim)))
        .catch(done);
    }) as never,
  );
  const client = oauth2ClientOf(strategy);
  hardenOAuth2Client(client, timeoutMs);
  if (tokenAuthMethod(cfg.id, cfg.tokenAuthMethod, metadata) === 'client_secret_basic') {
    useClientSecretBasic(client, cfg.clientId, cfg.clientSecret);
  }
  const getToken = client.getOAuthAccessToken.bind(client);
  client.getOAuthAccessToken = (code, params, cb) => {
    const codeVerifier = verifiers.get(code);
    verifiers.delete(code);
    getToken(code, codeVerifier ? { ...params, code_verifier: codeVerifier } : params, cb);
  };
  return strategy;
}
