import { Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { AuditService } from '../audit/audit.service.js';
import type { RequestContext } from '../http/request-context.js';
import { Clock } from '../common/clock.js';
import { randomToken, sha256 } from '../common/crypto.js';
import { DomainError } from '../common/domain-error.js';
import { InjectConfig } from '../config/config.module.js';
import type { ResolvedConfig } from '../config/app-secret.js';
import { Database } from '../database/db.service.js';
import { effectiveRoles } from './token-roles.js';
import { RevocationsService } from './revocations.service.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { Session } from './session.entity.js';
import { SessionsRepository, type TokenOwner } from './sessions.repository.js';

export interface IssuedSession {
  session: Pick<Session, 'id' | 'userId'>;
  refreshToken: string;
}

export interface RotatedSession extends IssuedSession {
  /** The user's current roles, read in the same transaction (the new access token carries them). */
  roles: string[];
}

/** Who ends a session, as the audit trail records it. */
export interface RevokedBy {
  actorId?: string;
  ctx?: RequestContext;
}

const spent = () => new DomainError('invalid_grant', 'refresh token is invalid, expired or revoked');

/** Sessions and their rotating refresh tokens (RFC 9700 §4.14.2: rotation with reuse detection). */
@Injectable()
export class SessionsService {
  constructor(
    private readonly database: Database,
    private readonly repository: SessionsRepository,
    private readonly audit: AuditService,
    private readonly revocations: RevocationsService,
    private readonly metrics: MetricsService,
    @InjectConfig() private readonly config: ResolvedConfig,
    private readonly clock: Clock,
  ) {}

  /** Starts a session and its first refresh token (in the caller's transaction, e.g. the code's exchange, if any). */
  create(userId: string, identityId: string | null, ctx: RequestContext, browserSessionId: string | null = null): Promise<IssuedSession> {
    return this.database.transaction(async () => {
      const session = await this.insertSession(userId, identityId, ctx, browserSessionId);
      const refreshToken = randomToken(32);
      await this.repository.addRefreshToken(sha256(refreshToken), session.id, session.createdAt);
      return { session, refreshToken };
    });
  }

  /**
   * Starts a browser's own session at the service (its cookie names it; see PageSessionService): no refresh token,
   * kept alive by use within REFRESH_IDLE_TTL, listed and revocable like every other session.
   */
  startBrowserSession(userId: string, identityId: string | null, ctx: RequestContext): Promise<Session> {
    return this.insertSession(userId, identityId, ctx, null);
  }

  private async insertSession(
    userId: string,
    identityId: string | null,
    ctx: RequestContext,
    browserSessionId: string | null,
  ): Promise<Session> {
    const now = this.clock.now();
    const session: Session = {
      id: randomUUID(),
      userId,
      identityId,
      createdAt: now,
      lastUsedAt: now,
      expiresAt: now + this.config.jwt.refreshTokenTtl * 1000,
      revokedAt: null,
      revokedReason: null,
      browserSessionId,
      userAgent: ctx.userAgent?.slice(0, 512) ?? null,
      ip: ctx.ip,
    };
    await this.repository.insert(session);
    return session;
  }

  /**
   * Spends a refresh token and returns its successor, in one transaction. The spend is one conditional UPDATE (…
   * WHERE used_at IS NULL): of any number of concurrent uses, exactly one changes the row (SECURITY.md R3). A token
   * that was already spent is reuse: the whole session is revoked, since either the app or an attacker holds a stolen
   * copy.
   *
   * Except once (issue 19): a token spent less than REFRESH_REUSE_GRACE seconds ago whose successor is still unused
   * is taken for a retry whose answer was lost (an instance killed after the commit, a network stall). It answers with
   * a fresh successor and retires the unused one in the same transaction, so exactly one usable token remains. The
   * successor's plaintext cannot be sent again (only its hash is kept), hence a fresh one. Retiring it makes the retry
   * single: a second retry, a concurrent one that lost, or the retired successor presented later finds a spent
   * successor and is reuse, as in Okta's and Auth0's rotation, where only the previous token gets the leeway. The
   * retirement is itself a conditional UPDATE, so concurrent retries (or a retry and a use of the successor) cannot
   * both win, on any instance. The grace is looked at only when the spend did not happen.
   *
   * One implementation for both databases, plus a shortcut on PostgreSQL for the common case: an unused token of an
   * active session is rotated by one statement (SessionsRepository.rotateInOneStatement) instead of BEGIN, four
   * statements and COMMIT; anything else (a retry, reuse, an ended session) takes the transaction below. Measured on
   * 2026-12-01 with `node bench/ab.mjs <dist with rotatesInOneStatement false> dist refresh postgres 3` (HTTP, 10
   * connections each rotating its own chain, runs interleaved, a busy 2-core machine): without the shortcut 127
   * refreshes/s and 3.8 ms of service CPU each, with it 174/s and 2.8 ms; again later, five runs: 173/s and 4.3 ms
   * against 198/s and 3.4 ms. On SQLite the transaction is in-process and costs about 0.15 ms.
   */
  async rotate(refreshToken: string, ctx: RequestContext): Promise<RotatedSession> {
    const hash = sha256(refreshToken);
    const now = this.clock.now();
    const next = randomToken(32);
    const nextHash = sha256(next);
    const owner = this.repository.rotatesInOneStatement
      ? await this.repository.rotateInOneStatement(hash, nextHash, now, now - this.config.jwt.refreshIdleTtl * 1000)
      : undefined;
    const result = owner ? this.rotated(owner, next) : await this.rotateInTransaction(hash, next, nextHash, now, ctx);
    if (result) return result;
    const token = await this.repository.findRefreshToken(hash);
    // Unknown, or never spent (its session is no longer active): nothing to revoke.
    const session = token?.usedAt != null ? await this.repository.find(token.sessionId) : null;
    if (session) this.metrics.refreshReuse.inc();
    if (session && (await this.revoke(session.id, 'refresh_token_reused', { ctx }))) {
      await this.audit.record({
        type: 'refresh_token_reused',
        userId: session.userId,
        reason: 'session revoked',
        ...ctx,
        details: { sessionId: session.id },
      });
    }
    throw spent();
  }

  /**
   * The rotation, or the retry within the grace; undefined for reuse, an unknown token or an ended session. On SQLite
   * the transaction holds the write lock (BEGIN IMMEDIATE) throughout; on PostgreSQL the conditional UPDATEs carry
   * the races.
   */
  private rotateInTransaction(
    hash: string,
    next: string,
    nextHash: string,
    now: number,
    ctx: RequestContext,
  ): Promise<RotatedSession | undefined> {
    return this.database.transaction(async () => {
      const state = await this.repository.refreshTokenState(hash);
      // Unknown, or its session ended or its user disabled: nothing to spend (a spent one is reuse, see rotate).
      if (!state || state.user.disabled || !this.isActive(state.session, now)) return undefined;
      if (state.usedAt === null && (await this.repository.spend(hash, nextHash, now))) return this.addSuccessor(state, next, nextHash, now);
      // Spent before, or by a concurrent use that won: the retry of a lost answer within the grace, or reuse.
      const grace = this.config.jwt.refreshReuseGrace * 1000;
      if (grace <= 0 || !(await this.repository.retireSuccessor(hash, now - grace, now))) return undefined;
      const retried = await this.addSuccessor(state, next, nextHash, now);
      await this.recordRetry(retried, ctx);
      return retried;
    });
  }

  /** The session's last use moved to now and its new refresh token stored. */
  private async addSuccessor(owner: TokenOwner, next: string, nextHash: string, now: number): Promise<RotatedSession> {
    await this.repository.touch(owner.session.id, now);
    await this.repository.addRefreshToken(nextHash, owner.session.id, now);
    return this.rotated(owner, next);
  }

  private rotated(owner: TokenOwner, next: string): RotatedSession {
    return { session: { id: owner.session.id, userId: owner.session.userId }, refreshToken: next, roles: effectiveRoles(owner.user) };
  }

  /** In the retry's transaction: an answer is never sent for a retry the audit trail does not show. */
  private async recordRetry(result: RotatedSession, ctx: RequestContext): Promise<void> {
    this.database.afterCommit(() => this.metrics.refreshRetries.inc());
    await this.audit.record({
      type: 'refresh_token_retried',
      userId: result.session.userId,
      reason: 'spent token presented again within REFRESH_REUSE_GRACE; its unused successor retired',
      ...ctx,
      details: { sessionId: result.session.id },
    });
  }

  /**
   * Ends a session and its access tokens (through the revocation feed, in the same transaction); returns whether it
   * was still active. `by` is who ended it, for the audit trail: the acting user (the session's own user signing
   * out) and the request's IP and user agent; no actor when the service itself ends it (a reused token).
   */
  async revoke(sessionId: string, reason: string, by: RevokedBy = {}): Promise<boolean> {
    return this.database.transaction(async () => {
      if (!(await this.repository.revoke(sessionId, reason, this.clock.now()))) return false;
      await this.revocations.revokeSession(sessionId);
      const { userId } = (await this.repository.find(sessionId))!;
      await this.audit.record({ type: 'session_revoked', userId, actorId: by.actorId, reason, ...by.ctx, details: { sessionId } });
      // A browser session's end is the end of single sign-on in that browser: the apps' sessions signed in through it
      // end with it, as a Keycloak SSO session takes its client sessions along (and their clients are told, by
      // back-channel logout). Otherwise a client told "logged out" would still refresh (OIDC Back-Channel Logout §2.7).
      for (const child of await this.repository.activeChildrenOf(sessionId)) await this.revoke(child, reason, by);
      return true;
    });
  }

  /**
   * An app's logout: its session ends, and so does the browser session it was signed in through. Whoever signs out
   * of an app at a shared computer expects to be signed out of the service in that browser too, and the app cannot
   * reach that session's HttpOnly cookie itself. (Signing out of one app while staying signed in to others is
   * RP-initiated logout, which comes with the OpenID Provider.)
   */
  async logout(sessionId: string, by: RevokedBy): Promise<void> {
    const session = await this.repository.find(sessionId);
    await this.revoke(sessionId, 'logout', by);
    if (session?.browserSessionId) await this.revoke(session.browserSessionId, 'logout', by);
  }

  /** The session a refresh token belongs to, active or not; null for an unknown token. */
  sessionOfRefreshToken(refreshToken: string): Promise<Session | null> {
    return this.repository.findByRefreshToken(sha256(refreshToken));
  }

  /** Ends every session of a user and every access token they hold; returns how many sessions were active. */
  revokeAllOf(userId: string, reason: string): Promise<number> {
    return this.database.transaction(async () => {
      const now = this.clock.now();
      // Twice: an app session started through one of these sessions while this UPDATE waited on that session's row
      // (OidcSessionsService holds it while it starts the child) is not in the first UPDATE's snapshot, but is
      // committed, and so seen, by the second (PostgreSQL READ COMMITTED takes a snapshot per statement; SECURITY.md O19).
      const count = (await this.repository.revokeAllOf(userId, reason, now)) + (await this.repository.revokeAllOf(userId, reason, now));
      await this.revocations.revokeUserTokens(userId);
      return count;
    });
  }

  /** "Sign out everywhere": every session of the user ends, audited as their own doing. */
  async signOutEverywhere(userId: string, ctx: RequestContext): Promise<number> {
    return this.database.transaction(async () => {
      const count = await this.revokeAllOf(userId, 'signed_out_everywhere');
      await this.audit.record({
        type: 'session_revoked',
        userId,
        actorId: userId,
        reason: 'signed out everywhere',
        ...ctx,
        details: { count },
      });
      return count;
    });
  }

  /** The session if it is still active and the user's, its last use moved to now (pages' cookie sessions). */
  async touchIfActive(sessionId: string, userId: string): Promise<Session | undefined> {
    const now = this.clock.now();
    const session = await this.repository.find(sessionId, userId);
    if (!session || !this.isActive(session, now)) return undefined;
    await this.repository.setLastUsed(sessionId, now);
    return { ...session, lastUsedAt: now };
  }

  /** The user's sessions that can still be refreshed, newest first. */
  async listActive(userId: string): Promise<Session[]> {
    const now = this.clock.now();
    return (await this.repository.unrevokedOf(userId)).filter((s) => this.isActive(s, now));
  }

  /** Active = not revoked, within the absolute lifetime and within the idle lifetime (SECURITY.md R2). */
  isActive(session: Pick<Session, 'revokedAt' | 'expiresAt' | 'lastUsedAt'>, now: number): boolean {
    return session.revokedAt === null && session.expiresAt > now && session.lastUsedAt + this.config.jwt.refreshIdleTtl * 1000 > now;
  }
}
