import type { Request } from 'express';
import type { Strategy } from 'passport';

export type StrategyOutcome = { kind: 'redirect'; url: string } | { kind: 'success'; user: unknown } | { kind: 'fail'; info: unknown };

/**
 * Runs a Passport strategy for one request and resolves with what it decided. This is what
 * `passport.authenticate()` does internally (a per-request `Object.create(strategy)` with the action functions
 * attached), minus what we do not want from it: sessions, `req.login`, and writing the response itself.
 */
export function runStrategy(strategy: Strategy, req: Request, options: object): Promise<StrategyOutcome> {
  return new Promise((resolve, reject) => {
    const s = Object.create(strategy) as Strategy & Record<string, unknown>;
    s.success = (user: unknown) => resolve({ kind: 'success', user });
    s.fail = (info: unknown) => resolve({ kind: 'fail', info });
    s.redirect = (url: string) => resolve({ kind: 'redirect', url });
    s.pass = () => reject(new Error(`strategy ${strategy.name ?? ''} passed the request on`));
    s.error = (err: unknown) => reject(err);
    try {
      (s.authenticate as (req: Request, options: object) => void).call(s, req, options);
    } catch (e) {
      reject(e);
    }
  });
}
