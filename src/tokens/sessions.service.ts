import { Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { IsNull, type EntityManager } from 'typeorm';
import { AuditService } from '../audit/audit.service.js';
import type { RequestContext } from '../http/request-context.js';
import { Clock } from '../common/clock.js';
import { randomToken, sha256 } from '../common/crypto.js';
import { DomainError } from '../common/domain-error.js';
import { InjectConfig } from '../config/config.module.js';
import type { ResolvedConfig } from '../config/app-secret.js';
import { Db } from '../database/db.service.js';
import { RefreshToken } from './refresh-token.entity.js';
import { effectiveRoles } from './token-roles.js';
import { RevocationsService } from './revocations.service.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { Session } from './session.entity.js';

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

interface RotationRow {
  used_at: string | number | null;
  replaced_by: string | null;
  id: string;
  user_id: string;
  last_used_at: string | number;
  expires_at: string | number;
  revoked_at: string | number | null;
  roles: string;
  provider_roles: string;
  disabled: boolean | number;
}

const spent = () => new DomainError('invalid_grant', 'refresh token is invalid, expired or revoked');

/** Sessions and their rotating refresh tokens (RFC 9700 §4.14.2: rotation with reuse detection). */
@Injectable()
export class SessionsService {
  constructor(
    private readonly db: Db,
    private readonly audit: AuditService,
    private readonly revocations: RevocationsService,
    private readonly metrics: MetricsService,
    @InjectConfig() private readonly config: ResolvedConfig,
    private readonly clock: Clock,
  ) {}

  /** Starts a session; pass the manager of the transaction that consumes the authorization code. */
  async create(
    m: EntityManager,
    userId: string,
    identityId: string | null,
    ctx: RequestContext,
    browserSessionId: string | null = null,
  ): Promise<IssuedSession> {
    const session = await this.insertSession(m, userId, identityId, ctx, browserSessionId);
    const refreshToken = await this.addRefreshToken(m, session.id, session.createdAt);
    return { session, refreshToken };
  }

  /**
   * Starts a browser's own session at the service (its cookie names it; see PageSessionService): no refresh token,
   * kept alive by use within REFRESH_IDLE_TTL, listed and revocable like every other session.
   */
  startBrowserSession(userId: string, identityId: string | null, ctx: RequestContext): Promise<Session> {
    return this.db.run((m) => this.insertSession(m, userId, identityId, ctx, null));
  }

  private async insertSession(
    m: EntityManager,
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
    await this.db.insertRow(m, Session, session);
    return session;
  }

  /**
   * Spends a refresh token and returns its successor. The spend is one conditional UPDATE (… WHERE used_at IS NULL):
   * of any number of concurrent uses, exactly one changes the row (SECURITY.md R3). A token that was already spent is
   * reuse: the whole session is revoked, since either the app or an attacker holds a stolen copy.
   *
   * Except once (issue 19): a token spent less than REFRESH_REUSE_GRACE seconds ago whose successor is still unused
   * is taken for a retry whose answer was lost (an instance killed after the commit, a network stall). It answers with
   * a fresh successor and retires the unused one in the same atomic step, so exactly one usable token remains. The
   * successor's plaintext cannot be sent again (only its hash is kept), hence a fresh one. Retiring it makes the retry
   * single: a second retry, a concurrent one that lost, or the retired successor presented later finds a spent
   * successor and is reuse, as in Okta's and Auth0's rotation, where only the previous token gets the leeway.
   * The grace is looked at only when the spend did not match, so the rotation itself costs what it did.
   */
  async rotate(refreshToken: string, ctx: RequestContext): Promise<RotatedSession> {
    const hash = sha256(refreshToken);
    const now = this.clock.now();
    const grace = this.config.jwt.refreshReuseGrace > 0;
    // Plain SQL: this is the hottest write path, and four statements through the query builder cost 3× the rest.
    const result = this.db.postgres
      ? ((await this.rotateInOneStatement(hash, now)) ?? (grace ? await this.retryInOneStatement(hash, now, ctx) : undefined))
      : await this.db.transaction(async (m) => {
          const next = randomToken(32);
          const nextHash = sha256(next);
          const spend = await this.db.sql(
            m,
            'UPDATE refresh_tokens SET used_at = :now, replaced_by = :nextHash WHERE token_hash = :hash AND used_at IS NULL',
            { now, hash, nextHash },
          );
          if (spend.affected !== 1) return grace ? this.retryInTransaction(m, hash, now, ctx) : undefined;
          const row = await this.rotationRow(m, hash, '');
          if (!row || !this.isActiveRow(row, now)) throw spent();
          return this.addSuccessor(m, row, next, nextHash, now);
        });
    if (result) return result;
    const session = await this.db.run(async (m) => {
      const known = await m.findOneBy(RefreshToken, { tokenHash: hash });
      // Unknown, or never spent (on PostgreSQL the statement also refuses a token whose session is no longer active):
      // nothing to revoke.
      if (!known || known.usedAt === null) return null;
      return m.findOneBy(Session, { id: known.sessionId });
    });
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
   * SQLite, inside the transaction whose spend did not match: the retry within the grace, or undefined (reuse, or a
   * token that is unknown or whose session ended). The transaction holds the write lock (BEGIN IMMEDIATE), so the
   * check and the retirement cannot interleave with another rotation, in this process or another on the same file.
   */
  private async retryInTransaction(m: EntityManager, hash: string, now: number, ctx: RequestContext): Promise<RotatedSession | undefined> {
    const row = await this.rotationRow(m, hash, 'JOIN refresh_tokens n ON n.token_hash = r.replaced_by AND n.used_at IS NULL');
    if (!row?.replaced_by || Number(row.used_at) <= now - this.config.jwt.refreshReuseGrace * 1000 || !this.isActiveRow(row, now)) {
      return undefined;
    }
    const retire = await this.db.sql(m, 'UPDATE refresh_tokens SET used_at = :now WHERE token_hash = :successor AND used_at IS NULL', {
      now,
      successor: row.replaced_by,
    });
    if (retire.affected !== 1) return undefined;
    const next = randomToken(32);
    const result = await this.addSuccessor(m, row, next, sha256(next), now);
    await this.recordRetry(result, ctx, m);
    return result;
  }

  /**
   * PostgreSQL: the retry within the grace in one statement (then its audit row, in the same transaction), run only
   * when the rotation's statement matched nothing. The successor's retirement is the conditional UPDATE (…
   * n.used_at IS NULL) and carries every other check, so, as for the spend, concurrent retries queue on the
   * successor's row lock and exactly one finds it unused (R3). It races a use of the successor itself the same way:
   * whichever comes second finds that row spent, and is reuse.
   */
  private async retryInOneStatement(hash: string, now: number, ctx: RequestContext): Promise<RotatedSession | undefined> {
    const next = randomToken(32);
    return this.db.transaction(async (m) => {
      const { rows } = await this.db.sql<Pick<RotationRow, 'id' | 'user_id' | 'roles' | 'provider_roles'>>(
        m,
        `WITH retired AS (
           UPDATE refresh_tokens n SET used_at = :now
             FROM refresh_tokens r, sessions s, users u
            WHERE r.token_hash = :hash AND r.used_at > :graceSince AND n.token_hash = r.replaced_by AND n.used_at IS NULL
              AND s.id = r.session_id AND u.id = s.user_id AND NOT u.disabled
              AND s.revoked_at IS NULL AND s.expires_at > :now AND s.last_used_at > :idleSince
           RETURNING s.id, s.user_id, u.roles, u.provider_roles
         ), touched AS (
           UPDATE sessions SET last_used_at = :now FROM retired WHERE sessions.id = retired.id
         ), added AS (
           INSERT INTO refresh_tokens (token_hash, session_id, created_at, used_at) SELECT :nextHash, id, :now, NULL FROM retired
         )
         SELECT id, user_id, roles, provider_roles FROM retired`,
        {
          now,
          hash,
          graceSince: now - this.config.jwt.refreshReuseGrace * 1000,
          idleSince: now - this.config.jwt.refreshIdleTtl * 1000,
          nextHash: sha256(next),
        },
      );
      const row = rows[0];
      if (!row) return undefined;
      const result = this.rotated(row, next);
      // In the retry's transaction: an answer is never sent for a retry the audit trail does not show.
      await this.recordRetry(result, ctx, m);
      return result;
    });
  }

  private async recordRetry(result: RotatedSession, ctx: RequestContext, m: EntityManager): Promise<void> {
    this.db.afterCommit(m, () => this.metrics.refreshRetries.inc());
    await this.audit.record(
      {
        type: 'refresh_token_retried',
        userId: result.session.userId,
        reason: 'spent token presented again within REFRESH_REUSE_GRACE; its unused successor retired',
        ...ctx,
        details: { sessionId: result.session.id },
      },
      m,
    );
  }

  /** SQLite: the session and user of a token (`join` narrows which tokens qualify). */
  private async rotationRow(m: EntityManager, hash: string, join: string): Promise<RotationRow | undefined> {
    const { rows } = await this.db.sql<RotationRow>(
      m,
      `SELECT r.used_at, r.replaced_by, s.id, s.user_id, s.last_used_at, s.expires_at, s.revoked_at, u.roles, u.provider_roles, u.disabled
         FROM refresh_tokens r ${join} JOIN sessions s ON s.id = r.session_id JOIN users u ON u.id = s.user_id
        WHERE r.token_hash = :hash`,
      { hash },
    );
    return rows[0];
  }

  private isActiveRow(row: RotationRow, now: number): boolean {
    if (Boolean(row.disabled)) return false;
    return this.isActive(
      {
        lastUsedAt: Number(row.last_used_at),
        expiresAt: Number(row.expires_at),
        revokedAt: row.revoked_at === null ? null : Number(row.revoked_at),
      },
      now,
    );
  }

  /** SQLite: the session's last use moved to now and its new refresh token stored. */
  private async addSuccessor(m: EntityManager, row: RotationRow, next: string, nextHash: string, now: number): Promise<RotatedSession> {
    await this.db.sql(m, 'UPDATE sessions SET last_used_at = :now WHERE id = :id', { now, id: row.id });
    await this.db.sql(
      m,
      'INSERT INTO refresh_tokens (token_hash, session_id, created_at, used_at) VALUES (:hash, :sessionId, :now, NULL)',
      {
        hash: nextHash,
        sessionId: row.id,
        now,
      },
    );
    return this.rotated(row, next);
  }

  private rotated(row: Pick<RotationRow, 'id' | 'user_id' | 'roles' | 'provider_roles'>, next: string): RotatedSession {
    return {
      session: { id: row.id, userId: row.user_id },
      refreshToken: next,
      roles: effectiveRoles({ roles: JSON.parse(row.roles) as string[], providerRoles: JSON.parse(row.provider_roles) as string[] }),
    };
  }

  /**
   * PostgreSQL: the whole rotation in one statement, one round trip instead of six (BEGIN, four statements, COMMIT).
   * The spend carries the session's and user's checks, so it only happens for an active session of an enabled user;
   * concurrent uses queue on the token's row lock and, re-checked after the winner commits, find `used_at` set
   * (READ COMMITTED re-evaluation), so still exactly one wins (SECURITY.md R3).
   */
  private async rotateInOneStatement(hash: string, now: number): Promise<RotatedSession | undefined> {
    const next = randomToken(32);
    const nextHash = sha256(next);
    const { rows } = await this.db.run((m) =>
      this.db.sql<Pick<RotationRow, 'id' | 'user_id' | 'roles' | 'provider_roles'>>(
        m,
        `WITH spent AS (
           UPDATE refresh_tokens r SET used_at = :now, replaced_by = :nextHash
             FROM sessions s JOIN users u ON u.id = s.user_id
            WHERE r.token_hash = :hash AND r.used_at IS NULL AND s.id = r.session_id AND NOT u.disabled
              AND s.revoked_at IS NULL AND s.expires_at > :now AND s.last_used_at > :idleSince
           RETURNING s.id, s.user_id, u.roles, u.provider_roles
         ), touched AS (
           UPDATE sessions SET last_used_at = :now FROM spent WHERE sessions.id = spent.id
         ), added AS (
           INSERT INTO refresh_tokens (token_hash, session_id, created_at, used_at) SELECT :nextHash, id, :now, NULL FROM spent
         )
         SELECT id, user_id, roles, provider_roles FROM spent`,
        { now, hash, idleSince: now - this.config.jwt.refreshIdleTtl * 1000, nextHash },
      ),
    );
    const row = rows[0];
    return row && this.rotated(row, next);
  }

  /**
   * Ends a session and its access tokens (through the revocation feed, in the same transaction); returns whether it
   * was still active. `by` is who ended it, for the audit trail: the acting user (the session's own user signing
   * out) and the request's IP and user agent; no actor when the service itself ends it (a reused token).
   */
  async revoke(sessionId: string, reason: string, by: RevokedBy = {}): Promise<boolean> {
    return this.db.transaction(async (m) => {
      const res = await m.update(Session, { id: sessionId, revokedAt: IsNull() }, { revokedAt: this.clock.now(), revokedReason: reason });
      if (res.affected !== 1) return false;
      await this.revocations.revokeSession(sessionId, m);
      const { userId } = await m.findOneByOrFail(Session, { id: sessionId });
      await this.audit.record({ type: 'session_revoked', userId, actorId: by.actorId, reason, ...by.ctx, details: { sessionId } }, m);
      return true;
    });
  }

  /** Ends every session of a user and every access token they hold; returns how many sessions were active. */
  /**
   * An app's logout: its session ends, and so does the browser session it was signed in through. Whoever signs out
   * of an app at a shared computer expects to be signed out of the service in that browser too, and the app cannot
   * reach that session's HttpOnly cookie itself. (Signing out of one app while staying signed in to others is
   * RP-initiated logout, which comes with the OpenID Provider.)
   */
  async logout(sessionId: string, by: RevokedBy): Promise<void> {
    const session = await this.db.run((m) => m.findOneBy(Session, { id: sessionId }));
    await this.revoke(sessionId, 'logout', by);
    if (session?.browserSessionId) await this.revoke(session.browserSessionId, 'logout', by);
  }

  async revokeAllOf(m: EntityManager, userId: string, reason: string): Promise<number> {
    const res = await m.update(Session, { userId, revokedAt: IsNull() }, { revokedAt: this.clock.now(), revokedReason: reason });
    await this.revocations.revokeUserTokens(userId, m);
    return res.affected ?? 0;
  }

  /** The user's sessions that can still be refreshed, newest first. */
  /** "Sign out everywhere": every session of the user ends, audited as their own doing. */
  async signOutEverywhere(userId: string, ctx: RequestContext): Promise<number> {
    return this.db.transaction(async (m) => {
      const count = await this.revokeAllOf(m, userId, 'signed_out_everywhere');
      await this.audit.record(
        { type: 'session_revoked', userId, actorId: userId, reason: 'signed out everywhere', ...ctx, details: { count } },
        m,
      );
      return count;
    });
  }

  /** The session if it is still active and the user's, its last use moved to now (pages' cookie sessions). */
  async touchIfActive(sessionId: string, userId: string): Promise<Session | undefined> {
    const now = this.clock.now();
    const session = await this.db.run((m) => m.findOneBy(Session, { id: sessionId, userId }));
    if (!session || !this.isActive(session, now)) return undefined;
    await this.db.run((m) => m.update(Session, { id: sessionId }, { lastUsedAt: now }));
    return { ...session, lastUsedAt: now };
  }

  async listActive(userId: string): Promise<Session[]> {
    const now = this.clock.now();
    const rows = await this.db.run((m) => m.find(Session, { where: { userId, revokedAt: IsNull() }, order: { createdAt: 'DESC' } }));
    return rows.filter((s) => this.isActive(s, now));
  }

  /** Active = not revoked, within the absolute lifetime and within the idle lifetime (SECURITY.md R2). */
  isActive(session: Pick<Session, 'revokedAt' | 'expiresAt' | 'lastUsedAt'>, now: number): boolean {
    return session.revokedAt === null && session.expiresAt > now && session.lastUsedAt + this.config.jwt.refreshIdleTtl * 1000 > now;
  }

  private async addRefreshToken(m: EntityManager, sessionId: string, now: number): Promise<string> {
    const token = randomToken(32);
    await this.db.insertRow(m, RefreshToken, { tokenHash: sha256(token), sessionId, createdAt: now, usedAt: null, replacedBy: null });
    return token;
  }
}
