import type { Strategy } from 'passport';

/**
 * What every provider kind's Passport strategy (GoogleStrategy, FacebookStrategy, OidcStrategy) tells the registry
 * besides its Passport `name`.
 */
export interface ProviderStrategy extends Strategy {
  /** The configured provider it signs in with (`google`, `facebook`, an OIDC_PROVIDERS id). */
  readonly providerId: string;
  /** The issuer whose `iss` must come back in the authorization response (RFC 9207), if any. */
  readonly issuer?: string;
  /** True when the provider always sends `iss`, so its absence is refused. */
  readonly issuerParamRequired: boolean;
  /**
   * `form_post`: the provider posts its response to the callback (OAuth 2.0 Form Post Response Mode; Apple), which
   * FormPostCallbackController takes. Otherwise it redirects to the callback with the response in the query.
   */
  readonly responseMode?: 'form_post';
}

let strategies = 0;

/**
 * The name a provider's strategy is registered under with Passport (`google#1`, `oidc:corp#3`). PassportStrategy
 * registers with the `passport` module, whose registry is one per process, and a process may run several instances of
 * the service with providers of the same ids but other endpoints and callback URLs (the tests do: a second instance
 * behind the same PUBLIC_URL, services started one after another in one file). So each strategy gets a name no other
 * has, the routes find it through the registry, and the registry removes its strategies when its instance closes.
 */
export function strategyName(base: string): string {
  return `${base}#${++strategies}`;
}

/** Always from PUBLIC_URL, never from Host or X-Forwarded-Host (SECURITY.md F4). */
export function callbackUrl(publicUrl: string, providerId: string): string {
  return `${publicUrl}/auth/${providerId}/callback`;
}

type Verify = (...args: never[]) => unknown;

/**
 * PassportStrategy's verify callback calls `done` inside the try around `validate`, so a throw from whatever Passport
 * does after `done(null, user)` would come back into its catch and call `done` a second time, with that throw (house
 * style: Ghostfolio's double `done()`). Each provider's strategy hands its library this wrapper instead: `done` is
 * called once, and such a throw is reported once, as the strategy's error (what passport-oauth2's own try around the
 * verify call does with a throw). In the service `done` ends in AuthGuard's callback, which does not throw.
 */
export function callingDoneOnce<T extends Verify>(verify: T): T {
  const once = function (this: { error(e: unknown): void }, ...args: unknown[]) {
    const done = args.pop() as (err: unknown, ...rest: unknown[]) => void;
    let called = false;
    return (verify as unknown as (...a: unknown[]) => unknown).call(this, ...args, (err: unknown, ...rest: unknown[]) => {
      // Only PassportStrategy's catch calls again, with what the first call threw.
      if (called) return this.error(err);
      called = true;
      done(err, ...rest);
    });
  };
  // The libraries choose the verify callback's arguments by its arity (PassportStrategy's callbackArity).
  Object.defineProperty(once, 'length', { value: verify.length });
  return once as unknown as T;
}
