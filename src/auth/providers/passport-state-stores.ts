import type { Request } from 'express';
import type { LoginAttempt, LoginStateStore } from '../login-state.store.js';

/** The attempt restored at the callback, for the strategies' validate() that needs its nonce, and for SignInService. */
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
 * A callback request the library took for the start of a new sign-in. passport-oauth2 and passport-openidconnect read
 * a request without a non-empty `code` or `error` (`?code=`, `?error=`, Facebook's `error_code` at another provider)
 * as one: they build authorization parameters and ask the store to seal a new attempt. Only a login passes one (the
 * `state` option, from SignInService.start), so both refuse (newAttempt, the stores): no redirect to the provider
 * leaves a callback, and the request counts as an answer the strategy refused.
 */
export class NotAProviderResponse extends Error {
  override name = 'NotAProviderResponse';
  constructor() {
    super('the callback request is not an authorization response');
  }
}

/** The attempt a login passes as the `state` option, for authorizationParams; see NotAProviderResponse. */
export function newAttempt(options: { state?: LoginAttempt }): LoginAttempt {
  if (!options.state) throw new NotAProviderResponse();
  return options.state;
}

/**
 * passport-oauth2's state store with PKCE: store(req, verifier, state, meta, cb) and verify(req, handle, cb(err,
 * verifier, state)). The attempt goes in as the `state` option; the library's PKCE verifier is sealed with it.
 */
export function oauth2StateStore(store: LoginStateStore, provider: string) {
  return {
    store(req: Request, verifier: string, attempt: LoginAttempt | undefined, _meta: unknown, cb: Callback<[string?]>) {
      if (!attempt) return cb(new NotAProviderResponse());
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
    store(req: Request, _ctx: unknown, attempt: LoginAttempt | undefined, _meta: unknown, cb: Callback<[string?]>) {
      if (!attempt) return cb(new NotAProviderResponse());
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

/**
 * passport-oauth2 (Google, Facebook) and passport-openidconnect answer an error response (RFC 6749 §4.1.2.1: `error`,
 * `error_description` and the request's `state`; Facebook may send only `error_code`) before they read the state, so
 * the attempt, and with it the app's returnTo, was never restored and the browser ended at the built-in page. Each
 * strategy's `authenticate` restores it first through this, then runs the library's (`authenticate`). The state must
 * still be this browser's and is spent like any other (SECURITY.md F1): an error response for someone else's attempt
 * is invalid_state.
 *
 * A throw from the library's `authenticate` is the strategy's error too, so that it ends like every other failure of
 * the sign-in (Passport itself calls `authenticate` without a try).
 */
export function restoringAttemptOnError(
  strategy: { error(e: unknown): void },
  req: Request,
  store: LoginStateStore,
  provider: string,
  authenticate: () => void,
): void {
  const run = () => {
    try {
      authenticate();
    } catch (e) {
      strategy.error(e);
    }
  };
  const query = req.query as Record<string, unknown>;
  if (query.error === undefined && query.error_code === undefined) return run();
  store.consume(req, req.res!, provider, query.state).then(
    (attempt) => {
      remember(req, attempt);
      run();
    },
    (e: unknown) => strategy.error(e),
  );
}
