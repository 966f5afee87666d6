import type { Request } from 'express';
import type { Strategy } from 'passport';
import type { LoginAttempt, LoginStateStore } from '../login-state.store.js';

/** The attempt restored at the callback, for verify callbacks that need its nonce. */
const ATTEMPT = Symbol('loginAttempt');

function remember(req: Request, attempt: LoginAttempt): void {
  (req as Request & { [ATTEMPT]?: LoginAttempt })[ATTEMPT] = attempt;
}

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
          remember(req, attempt);
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
          remember(req, attempt);
          onRestored(req, attempt);
          cb(null, {}, attempt);
        },
        (e: unknown) => cb(e),
      );
    },
  };
}

type Authenticate = (this: Strategy & { error(e: unknown): void }, req: Request, options?: object) => void;

/**
 * passport-oauth2 (Google, Facebook) and passport-openidconnect answer an error response (RFC 6749 §4.1.2.1: `error`,
 * `error_description` and the request's `state`; Facebook may send only `error_code`) before they read the state, so
 * the attempt, and with it the app's returnTo, was never restored and the browser ended at the built-in page. This
 * restores it first. The state must still be this browser's and is spent like any other (SECURITY.md F1): an error
 * response for someone else's attempt is invalid_state.
 */
export function restoringAttemptOnError<S extends Strategy>(strategy: S, store: LoginStateStore, provider: string): S {
  const authenticate = (strategy as unknown as { authenticate: Authenticate }).authenticate;
  const wrapped: Authenticate = function (req, options) {
    const query = req.query as Record<string, unknown>;
    if (query.error === undefined && query.error_code === undefined) return authenticate.call(this, req, options);
    store.consume(req, req.res!, provider, query.state).then(
      (attempt) => {
        remember(req, attempt);
        authenticate.call(this, req, options);
      },
      (e: unknown) => this.error(e),
    );
  };
  (strategy as unknown as { authenticate: Authenticate }).authenticate = wrapped;
  return strategy;
}
