import { Injectable } from '@nestjs/common';
import { createHmac } from 'node:crypto';
import type { Request, Response } from 'express';
import { AccountsService } from '../accounts/accounts.service.js';
import { effectiveRoles } from '../tokens/token-roles.js';
import { Clock } from '../common/clock.js';
import { deriveKey, safeEqual, seal, unseal } from '../common/crypto.js';
import { DomainError } from '../common/domain-error.js';
import type { ResolvedConfig } from '../config/app-secret.js';
import { InjectConfig } from '../config/config.module.js';
import { Cookies } from '../http/cookies.js';
import type { RequestContext } from '../http/request-context.js';
import type { AccessTokenClaims } from '../tokens/access-tokens.service.js';
import { RevocationsService } from '../tokens/revocations.service.js';
import { SessionsService } from '../tokens/sessions.service.js';

/** What the sealed cookie holds: the session, whose it is, its roles, and when that was last checked (seconds). */
interface PageSession {
  sid: string;
  sub: string;
  roles: string[];
  iat: number;
}

export const CSRF_HEADER = 'x-csrf-token';
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * The browser's own session at the service: started by every browser sign-in (the pages' and every app's, see
 * `signedIn`), it is what proves a link URL is opened by its requester (SECURITY.md L1) and what the pages (sign-in,
 * account, admin console) run on — no token ever reaches the page's script, a URL or localStorage. An HttpOnly, SameSite=Lax cookie (`__Host-` and Secure on https, RFC 6265bis §4.1.3.2) carries the
 * session sealed with AES-GCM. It is checked like an access token — in memory, against the revocation feed — and
 * against the database only when older than ACCESS_TOKEN_TTL or when a revocation names its user (a role change),
 * which keeps it within the bound the feed remembers revocations for. Requests that change state with it must carry
 * the CSRF token bound to the session (a header a cross-site form cannot send) and, when present, our own Origin.
 */
@Injectable()
export class PageSessionService {
  readonly cookieName: string;
  private readonly key: Buffer;
  private readonly csrfKey: Buffer;
  private readonly cookies: Cookies;
  private readonly origin: string;

  constructor(
    @InjectConfig() private readonly config: ResolvedConfig,
    private readonly sessions: SessionsService,
    private readonly accounts: AccountsService,
    private readonly revocations: RevocationsService,
    private readonly clock: Clock,
  ) {
    this.cookies = new Cookies(config);
    this.cookieName = this.cookies.name('sls_session');
    this.key = deriveKey(config.appSecret, 'page-session-cookie');
    this.csrfKey = deriveKey(config.appSecret, 'page-session-csrf');
    this.origin = new URL(config.publicUrl).origin;
  }

  /** Starts the pages' session after a sign-in. */
  issue(res: Response, session: { sid: string; sub: string; roles: string[] }): PageSession {
    const value: PageSession = { ...session, iat: this.revocations.issuedAtFor(session.sub) };
    this.cookies.set(res, this.cookieName, seal(this.key, JSON.stringify(value), this.cookieName), this.config.jwt.refreshTokenTtl * 1000);
    return value;
  }

  /**
   * After a browser sign-in at a provider (the pages' and every app's): the browser's session at the service is this
   * user's. One already this user's is kept; otherwise a new session starts and one of another user ends, so a shared
   * browser never holds two. Linking (SECURITY.md L1) and, later, SSO for OpenID clients rest on this session. Returns
   * its id: the app's session the sign-in's code starts remembers it, and the app's logout ends it.
   */
  async signedIn(
    req: Request,
    res: Response,
    user: { id: string; roles: string[]; providerRoles: string[] },
    identityId: string,
    ctx: RequestContext,
  ): Promise<string> {
    const current = await this.authenticate(req, res);
    if (current?.sub === user.id && current.sid) return current.sid;
    if (current?.sid) await this.sessions.revoke(current.sid, 'signed_in_as_another_user');
    const session = await this.sessions.startBrowserSession(user.id, identityId, ctx);
    this.issue(res, { sid: session.id, sub: user.id, roles: effectiveRoles(user) });
    return session.id;
  }

  clear(res: Response): void {
    this.cookies.clear(res, this.cookieName);
  }

  /** The CSRF token of a session: an HMAC of its id, so it needs no storage and dies with the session. */
  csrfToken(sid: string): string {
    return createHmac('sha256', this.csrfKey).update(sid).digest('base64url');
  }

  hasCookie(req: Request): boolean {
    return typeof (req.cookies as Record<string, unknown> | undefined)?.[this.cookieName] === 'string';
  }

  /**
   * The caller's claims from the cookie, or undefined when there is none or it no longer holds (it is then cleared).
   * Throws forbidden for a state-changing request without the session's CSRF token or from another Origin.
   * `csrfToken` is the token the request presents: its X-CSRF-Token header, unless a form posted it as a field.
   */
  async authenticate(req: Request, res: Response, csrfToken: unknown = req.headers[CSRF_HEADER]): Promise<AccessTokenClaims | undefined> {
    const raw = (req.cookies as Record<string, unknown> | undefined)?.[this.cookieName];
    if (typeof raw !== 'string' || !raw) return undefined;
    // Another site's script never gets to use this cookie, not even to read (CORS gives it no credentials anyway).
    const origin = req.headers.origin;
    if (origin !== undefined && origin !== this.origin) return undefined;
    const opened = unseal(this.key, raw, this.cookieName);
    let session = opened ? (JSON.parse(opened) as PageSession) : undefined;
    if (session) session = await this.current(session, res);
    if (!session) {
      this.clear(res);
      return undefined;
    }
    if (!SAFE_METHODS.has(req.method) && !isPostedAuthorizationResponse(req)) {
      if (typeof csrfToken !== 'string' || !safeEqual(csrfToken, this.csrfToken(session.sid))) {
        throw new DomainError('forbidden', 'this request needs the page’s CSRF token (X-CSRF-Token)');
      }
    }
    const now = Math.floor(this.clock.now() / 1000);
    return {
      iss: this.config.publicUrl,
      aud: this.config.jwt.audience,
      sub: session.sub,
      sid: session.sid,
      roles: session.roles,
      iat: session.iat,
      nbf: session.iat,
      exp: session.iat + this.config.jwt.accessTokenTtl,
      jti: `page:${session.sid}:${now}`,
    };
  }

  /** The session as it stands now: as sealed while fresh and unrevoked, else re-read from the database and re-sealed. */
  private async current(session: PageSession, res: Response): Promise<PageSession | undefined> {
    const now = this.clock.now();
    const fresh = now / 1000 - session.iat < this.config.jwt.accessTokenTtl;
    if (fresh && !this.revocations.isRevoked(session.sid, session.sub, session.iat)) return session;
    const active = await this.sessions.touchIfActive(session.sid, session.sub);
    const user = active ? await this.accounts.findUser(session.sub) : null;
    if (!active || !user || user.disabled) return undefined;
    return this.issue(res, { sid: session.sid, sub: session.sub, roles: effectiveRoles(user) });
  }
}

const POSTED_AUTHORIZATION_RESPONSE = Symbol('postedAuthorizationResponse');

/**
 * Marks a provider's authorization response that arrived as a POST (form_post, resumed from our own page: see
 * FormPostCallbackController). It needs no CSRF token, as the GET callback needs none: it is bound to this browser by
 * its state and the login cookie (SECURITY.md F1), and it comes from a page of ours, which cannot know the token (the
 * session cookie, SameSite=Lax, was not on the provider's cross-site POST that page answered). A POST from another
 * origin still never uses the session (the Origin check in authenticate).
 */
export function markPostedAuthorizationResponse(req: Request): void {
  (req as Request & { [POSTED_AUTHORIZATION_RESPONSE]?: true })[POSTED_AUTHORIZATION_RESPONSE] = true;
}

function isPostedAuthorizationResponse(req: Request): boolean {
  return (req as Request & { [POSTED_AUTHORIZATION_RESPONSE]?: true })[POSTED_AUTHORIZATION_RESPONSE] === true;
}
