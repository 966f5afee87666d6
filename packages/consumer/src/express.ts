import { AccessTokenError, bearerToken, checkRoles } from './errors.js';
import { AccessTokenVerifier, type AccessTokenClaims, type ConsumerOptions } from './verifier.js';

/** The little of Express (or Connect) this needs, so the kit does not depend on it. */
export interface RequestLike {
  headers: Record<string, string | string[] | undefined>;
  auth?: AccessTokenClaims;
}
export interface ResponseLike {
  status(code: number): ResponseLike;
  setHeader(name: string, value: string): unknown;
  json(body: unknown): unknown;
}
export type Next = (err?: unknown) => void;
export type Middleware = (req: RequestLike, res: ResponseLike, next: Next) => void;

function refuse(res: ResponseLike, e: AccessTokenError): void {
  const challenge = e.wwwAuthenticate;
  if (challenge) res.setHeader('WWW-Authenticate', challenge);
  res.setHeader('Cache-Control', 'no-store');
  res.status(e.status).json(e.body);
}

/**
 * Requires a valid access token (and, with `roles`, one of them); sets `req.auth` to its claims. Pass options, or a
 * verifier shared with other middleware (one JWKS cache and revocation feed per process).
 */
export function requireAccessToken(source: ConsumerOptions | AccessTokenVerifier, opts: { roles?: string[] } = {}): Middleware {
  const verifier = source instanceof AccessTokenVerifier ? source : new AccessTokenVerifier(source);
  return (req, res, next) => {
    const token = bearerToken(req.headers.authorization);
    if (!token) return refuse(res, new AccessTokenError('invalid_token', 'a bearer access token is required'));
    verifier.verify(token).then(
      (claims) => {
        req.auth = claims;
        try {
          checkRoles(claims, opts.roles ?? []);
        } catch (e) {
          return refuse(res, e as AccessTokenError);
        }
        next();
      },
      (e: unknown) => (e instanceof AccessTokenError ? refuse(res, e) : next(e)),
    );
  };
}

/** After requireAccessToken: the token must carry one of `roles` (403 otherwise). */
export function requireRoles(...roles: string[]): Middleware {
  return (req, res, next) => {
    if (!req.auth) return refuse(res, new AccessTokenError('invalid_token', 'a bearer access token is required'));
    try {
      checkRoles(req.auth, roles);
    } catch (e) {
      return refuse(res, e as AccessTokenError);
    }
    next();
  };
}

export { AccessTokenVerifier, AccessTokenError, type AccessTokenClaims, type ConsumerOptions };
