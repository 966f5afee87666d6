import { Injectable } from '@nestjs/common';
import type { Request, Response } from 'express';
import { AuditService } from '../audit/audit.service.js';
import type { RequestContext } from '../http/request-context.js';
import { CSRF_HEADER, PageSessionService } from '../auth/page-session.service.js';
import { Database } from '../database/db.service.js';
import { SessionsService } from '../tokens/sessions.service.js';
import { RequestMemo } from './request-memo.js';
import { OidcRepository } from './oidc.repository.js';

/** Our browser session as the OpenID Provider sees it: who, which session, and when they signed in (auth_time). */
export interface BrowserLogin {
  sid: string;
  sub: string;
  /** Seconds: when this browser session started, i.e. when the person last signed in at a provider here. */
  authTime: number;
}

/** Which browser session of ours an oidc-provider session mirrors (oidc_browser_sessions). */
type Binding = { browserSessionId: string; userId: string };

/** Rolls back a grant's first session when a concurrent one was bound first. */
class LostRace extends Error {}

/** Thrown where a client's tokens would outlive the session they belong to: oidc-provider answers invalid_grant. */
export class SessionEnded extends Error {
  override name = 'SessionEnded';
}

/**
 * The OpenID Provider's side of "one session model" (docs/openid-provider.md): our browser session is the login
 * oidc-provider's session mirrors, and every grant's tokens belong to a session of ours, listed and revocable like
 * every other one, whose id is the `sid` of the client's access tokens.
 */
@Injectable()
export class OidcSessionsService {
  private readonly seen = new WeakMap<Request, Promise<BrowserLogin | undefined>>();
  /** The bindings read in a request, by oidc-provider session uid: one request, never longer (like `seen`). */
  private readonly bound = new RequestMemo<Binding | undefined>();

  constructor(
    private readonly pages: PageSessionService,
    private readonly sessions: SessionsService,
    private readonly repo: OidcRepository,
    private readonly audit: AuditService,
    private readonly database: Database,
  ) {}

  /**
   * This browser's session at the service, if it has a valid one (read once per request). A state-changing request
   * must present the session's CSRF token: its X-CSRF-Token header, or else `csrfToken`, what a form posted (null: the
   * form had none, and no header counts instead).
   */
  browser(req: Request, res: Response, csrfToken?: string | null): Promise<BrowserLogin | undefined> {
    let seen = this.seen.get(req);
    if (!seen) this.seen.set(req, (seen = this.readBrowser(req, res, csrfToken)));
    return seen;
  }

  private async readBrowser(req: Request, res: Response, csrfToken: string | null | undefined): Promise<BrowserLogin | undefined> {
    // A POST authorization request carries no CSRF token: authenticate refuses it, and it is then not signed in here
    // (the sign-in page follows, which is correct, only one step longer).
    const presented = csrfToken === undefined ? req.headers[CSRF_HEADER] : csrfToken;
    const claims = await this.pages.authenticate(req, res, presented).catch(() => undefined);
    if (!claims?.sid) return undefined;
    const session = (await this.sessions.listActive(claims.sub)).find((s) => s.id === claims.sid);
    if (!session) return undefined;
    return { sid: session.id, sub: claims.sub, authTime: Math.floor(session.createdAt / 1000) };
  }

  /**
   * Whether oidc-provider's session `uid` mirrors this browser session. With `req`, the binding is read once for that
   * request (the authorization request asks twice: mirrorBrowserSession, then the browser_session check); the next
   * request reads it again, so a logout or a new binding on another instance counts at once.
   */
  async mirrors(sessionUid: string, browser: BrowserLogin, req?: Request): Promise<boolean> {
    const bound = await this.bindingOf(sessionUid, req);
    return bound?.browserSessionId === browser.sid && bound.userId === browser.sub;
  }

  async bind(sessionUid: string, browser: BrowserLogin, req?: Request): Promise<void> {
    await this.repo.bindBrowserSession(sessionUid, browser.sid, browser.sub);
    // Forgotten: a read this request makes after the write reads what was written.
    this.bound.forget(req, sessionUid);
  }

  private bindingOf(sessionUid: string, req?: Request): Promise<Binding | undefined> {
    return this.bound.read(req, sessionUid, () => this.repo.browserSessionOf(sessionUid));
  }

  /**
   * The session of ours a grant's tokens belong to. The first token of a grant starts it, as a child of the browser
   * session the grant was given in (so an app's logout ends that one too, as for every app); it must still be active.
   * Later tokens (refresh) find it, and it must still be active too: revoking it on the account page, in the admin
   * API or by any logout ends the client's refresh token as well as its access tokens.
   */
  async sessionForGrant(grant: {
    grantId: string;
    sessionUid?: string;
    accountId: string;
    clientId: string;
    oidcSid?: string;
  }): Promise<string> {
    const known = await this.repo.grantSession(grant.grantId);
    if (known) {
      if (!(await this.sessions.touchIfActive(known.session_id, known.user_id))) throw new SessionEnded('the session has ended');
      return known.session_id;
    }
    const started = await this.startGrantSession(grant);
    // Two codes of one grant (two tabs of the app in one browser) exchanged at once: both found no session, one bound
    // its own, and the other takes that one, rolled back its own, so the grant still has one session that ending ends
    // all its tokens (SECURITY.md O16).
    return started ?? this.sessionForGrant(grant);
  }

  /** The grant's first session, bound to it; undefined (nothing written) when a concurrent one was bound first. */
  private async startGrantSession(grant: {
    grantId: string;
    sessionUid?: string;
    accountId: string;
    clientId: string;
    oidcSid?: string;
  }): Promise<string | undefined> {
    const bound = grant.sessionUid ? await this.repo.browserSessionOf(grant.sessionUid) : undefined;
    if (!bound || bound.userId !== grant.accountId) throw new SessionEnded('the sign-in is not bound to a session');
    const browser = (await this.sessions.listActive(bound.userId)).find((s) => s.id === bound.browserSessionId);
    if (!browser) throw new SessionEnded('the browser session has ended');
    const session = await this.database
      .transaction(async () => {
        // The browser session ending meanwhile (a logout) listed the sessions signed in through it before this one
        // existed: checked under its row lock, before the child starts (SECURITY.md O19; Back-Channel Logout 1.0 §2.7).
        if (!(await this.repo.holdUnrevokedSession(browser.id))) throw new SessionEnded('the browser session has ended');
        // The client's session belongs to the browser that signed in, as the code's session does for today's apps.
        const created = await this.sessions.create(
          browser.userId,
          browser.identityId,
          { ip: browser.ip, userAgent: browser.userAgent },
          browser.id,
        );
        const won = await this.repo.addGrantSession({
          grant_id: grant.grantId,
          session_id: created.session.id,
          client_id: grant.clientId,
          user_id: grant.accountId,
          oidcSid: grant.oidcSid ?? null,
        });
        if (!won) throw new LostRace();
        // The grant revoked meanwhile (the person revoked the app on /me/apps, an admin disabled the client): its
        // revocation listed the grant's sessions before this one was bound, so no session may start now. Checked under
        // the grant's row lock, after the binding is written (SECURITY.md O17; RFC 6749 §10.4, OIDC Core §3.1.2.4).
        if (!(await this.repo.lockGrant(grant.grantId))) throw new SessionEnded('the grant was revoked');
        return created.session;
      })
      .catch((e: unknown) => {
        if (e instanceof LostRace) return undefined;
        throw e;
      });
    if (!session) return undefined;
    await this.audit.record({
      type: 'client_sign_in',
      userId: grant.accountId,
      actorId: grant.clientId,
      reason: 'OpenID Connect authorization code',
      ip: browser.ip,
      userAgent: browser.userAgent,
      details: { clientId: grant.clientId, sessionId: session.id },
    });
    return session.id;
  }

  /** Ends the browser session a mirror is bound to, as its person's logout; whether it was still active. */
  async endBrowserSession(sessionUid: string, userId: string, ctx: RequestContext): Promise<boolean> {
    const bound = await this.repo.browserSessionOf(sessionUid);
    if (bound?.userId !== userId) return false;
    return this.sessions.revoke(bound.browserSessionId, 'logout', { actorId: userId, ctx });
  }

  /** oidc-provider revoked a grant (code or refresh token reuse, RFC 7009 revocation): its session ends too. */
  async grantRevoked(grantId: string): Promise<void> {
    const known = await this.repo.grantSession(grantId);
    if (known) await this.sessions.revoke(known.session_id, 'grant_revoked');
  }
}
