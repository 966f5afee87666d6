import type { Request } from 'express';
import { Strategy as FacebookStrategy, type Profile } from 'passport-facebook';
import type { FacebookProviderConfig } from '../../../config/config.js';
import type { LoginStateStore } from '../../login-state.store.js';
import { hardenOAuth2Client, oauth2ClientOf } from '../oauth2-client.js';
import { oauth2StateStore } from '../passport-state-stores.js';
import type { ProviderProfile } from '../../../accounts/provider-profile.js';
import { facebookProfile } from './facebook.profile.js';

type Done = (err: unknown, user?: Express.User) => void;

/**
 * Facebook through passport-facebook: a pinned Graph version (the library alone would use v3.2), `appsecret_proof`
 * on Graph calls, PKCE S256, and the email optional (people may decline that permission).
 */
export function createFacebookStrategy(cfg: FacebookProviderConfig, callbackURL: string, store: LoginStateStore, timeoutMs: number) {
  const strategy = new FacebookStrategy(
    {
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
      store: oauth2StateStore(store, cfg.id) as never,
      passReqToCallback: true,
    } as never,
    (_req: Request, _accessToken: string, _refreshToken: string, profile: Profile, done: Done) => {
      // Only the mapping is guarded: were `done(null, …)` inside the try, a throw from whatever Passport does next would
      // come back here and call `done` a second time (house style: Ghostfolio's double `done()`). Such a throw goes to
      // passport-oauth2's own try/catch around this callback, which reports it once.
      let user: ProviderProfile;
      try {
        user = facebookProfile(profile._json as Record<string, unknown>);
      } catch (e) {
        return done(e);
      }
      done(null, user);
    },
  );
  hardenOAuth2Client(oauth2ClientOf(strategy), timeoutMs);
  return strategy;
}
