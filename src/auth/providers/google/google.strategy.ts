import type { Request } from 'express';
import { Strategy as GoogleStrategy, type Profile } from 'passport-google-oauth20';
import type { GoogleProviderConfig } from '../../../config/config.js';
import type { LoginAttempt, LoginStateStore } from '../../login-state.store.js';
import { IdTokenVerifier } from '../id-token.verifier.js';
import { oidcProfile } from '../oidc/oidc.profile.js';
import { hardenOAuth2Client, oauth2ClientOf } from '../oauth2-client.js';
import { attemptOf, oauth2StateStore } from '../passport-state-stores.js';

type Done = (err: unknown, user?: Express.User) => void;

/** passport-google-oauth20 with the OIDC nonce it does not send (OIDC Core §3.1.2.1). */
class GoogleOidcStrategy extends GoogleStrategy {
  override authorizationParams(options: { state: LoginAttempt }): object {
    return { ...super.authorizationParams(options), nonce: options.state.nonce };
  }
}

/**
 * Google through passport-google-oauth20, with PKCE S256 and state in our sealed cookie. Google's ID token is verified
 * against its JWKS (issuer always accounts.google.com, even when tests move the endpoints) and UserInfo must agree.
 */
export function createGoogleStrategy(cfg: GoogleProviderConfig, callbackURL: string, store: LoginStateStore, timeoutMs: number) {
  const verifier = new IdTokenVerifier({
    issuers: [cfg.issuer, cfg.issuer.replace(/^https:\/\//, '')],
    clientId: cfg.clientId,
    jwksUrl: cfg.jwksUrl,
    algorithms: ['RS256'],
    timeoutMs,
  });
  const strategy = new GoogleOidcStrategy(
    {
      clientID: cfg.clientId,
      clientSecret: cfg.clientSecret,
      callbackURL,
      authorizationURL: cfg.authorizationUrl,
      tokenURL: cfg.tokenUrl,
      userProfileURL: cfg.userinfoUrl,
      scope: ['openid', 'email', 'profile'],
      pkce: true,
      state: true,
      store: oauth2StateStore(store, cfg.id) as never,
      passReqToCallback: true,
    },
    // Arity 6 makes passport-oauth2 pass the token response `params`, which carries the id_token.
    (req: Request, _accessToken: string, _refreshToken: string, params: { id_token?: string }, profile: Profile, done: Done) => {
      verifier
        .verify(params.id_token, attemptOf(req).nonce)
        .then((claims) => done(null, oidcProfile(cfg.id, claims, profile._json as Record<string, unknown>)))
        .catch(done);
    },
  );
  hardenOAuth2Client(oauth2ClientOf(strategy), timeoutMs);
  return strategy;
}
