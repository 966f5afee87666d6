import type { Request } from 'express';
import type { LoginAttempt, LoginStateStore } from '../login-state.store.js';

/** The attempt restored at the callback, for verify callbacks that need its nonce. */
const ATTEMPT = Symbol('loginAttempt');

export function attemptOf(req: Request): LoginAttempt {
  const attempt = (req as Request & { [ATTEMPT]?: LoginAttempt })[ATTEMPT];
  if (!attempt) throw new Error('no login attempt restored for this request');
  return attempt;
}

export function restoredAttempt(req: Request): LoginAttempt | undefined {
  return (req as Request & { [ATTEMPT]?: LoginAttempt })[ATTEMPT];
}

type Callback<T extends unknown[]> = (err: unknown, ...rest: Partial<T>) => void;

/**
 * passport-oauth2's state store with PKCE: store(req, verifier, state, meta, cb) and verify(req, handle, cb(err,
 * verifier, state)). The attempt goes in as the `state` option; the library's PKCE verifier is sealed with it.
 */
export function oauth2StateStore(store: LoginStateStore, provider: string) {
  return {
    store(req: Request, verifier: string, attempt: LoginAttempt, _meta: unknown, cb: Callback<[string?]>) {
      try {
        cb(null, store.save(req, req.res!, { ...attempt, pkceVerifier: verifier }));
      } catch (e) {
        cb(e);
      }
    },
    verify(req: Request, handle: unknown, cb: Callback<[string | boolean, LoginAttempt?]>) {
      store.consume(req, req.res!, provider, handle).then(
        (attempt) => {
          (req as Request & { [ATTEMPT]?: LoginAttempt })[ATTEMPT] = attempt;
          cb(null, attempt.pkceVerifier ?? true, attempt);
        },
        (e: unknown) => cb(e),
      );
    },
  };
}

/**
 * passport-openidconnect's state store: store(req, ctx, appState, meta, cb) and verify(req, handle, cb(err, ctx,
 * appState)). Its own nonce is not used: ours is in the attempt and is checked against the verified ID token.
 */
export function oidcStateStore(store: LoginStateStore, provider: string, onRestored: (req: Request, a: LoginAttempt) => void) {
  return {
    store(req: Request, _ctx: unknown, attempt: LoginAttempt, _meta: unknown, cb: Callback<[string?]>) {
      try {
        cb(null, store.save(req, req.res!, attempt));
      } catch (e) {
        cb(e);
      }
    },
    verify(req: Request, handle: unknown, cb: Callback<[object | false, LoginAttempt?]>) {
      store.consume(req, req.res!, provider, handle).then(
        (attempt) => {
          (req as Request & { [ATTEMPT]?: LoginAttempt })[ATTEMPT] = attempt;
          onRestored(req, attempt);
          cb(null, {}, attempt);
        },
        (e: unknown) => cb(e),
      );
    },
  };
}
