import { Injectable } from '@nestjs/common';
import { IsNull } from 'typeorm';
import { Database, type SqlResult } from '../database/db.service.js';
import { RefreshToken } from './refresh-token.entity.js';
import { Session } from './session.entity.js';

/** Whose a refresh token is: its session and the user's roles (the new access token carries them). */
export interface TokenOwner {
  session: Pick<Session, 'id' | 'userId'>;
  user: { roles: string[]; providerRoles: string[] };
}

/** A refresh token with what rotating it needs to know of its session and user. */
export interface RefreshTokenState extends TokenOwner {
  usedAt: number | null;
  session: Pick<Session, 'id' | 'userId' | 'lastUsedAt' | 'expiresAt' | 'revokedAt'>;
  user: TokenOwner['user'] & { disabled: boolean };
}

interface RefreshTokenStateRow {
  used_at: string | number | null;
  id: string;
  user_id: string;
  last_used_at: string | number;
  expires_at: string | number;
  revoked_at: string | number | null;
  roles: string;
  provider_roles: string;
  disabled: boolean | number;
}

const time = (v: string | number) => Number(v);

const toState = ({ rows: [row] }: SqlResult<RefreshTokenStateRow>): RefreshTokenState | undefined =>
  row && {
    usedAt: row.used_at === null ? null : time(row.used_at),
    session: {
      id: row.id,
      userId: row.user_id,
      lastUsedAt: time(row.last_used_at),
      expiresAt: time(row.expires_at),
      revokedAt: row.revoked_at === null ? null : time(row.revoked_at),
    },
    user: {
      disabled: Boolean(row.disabled),
      roles: JSON.parse(row.roles) as string[],
      providerRoles: JSON.parse(row.provider_roles) as string[],
    },
  };

@Injectable()
export class SessionsRepository {
  constructor(private readonly database: Database) {}

  insert(session: Session): Promise<void> {
    return this.database.insertRow(Session, session);
  }

  /** Resolves once stored. */
  addRefreshToken(tokenHash: string, sessionId: string, now: number): Promise<unknown> {
    // The hot path's methods hand on the statement's own promise: with AsyncLocalStorage on (Database), every
    // promise and await costs a hook call, and a refresh runs four of these.
    return this.database.sql(
      'INSERT INTO refresh_tokens (token_hash, session_id, created_at, used_at) VALUES (:tokenHash, :sessionId, :now, NULL)',
      { tokenHash, sessionId, now },
    );
  }

  /** The token's state, its session's and its user's, in one statement; undefined for an unknown token. */
  refreshTokenState(tokenHash: string): Promise<RefreshTokenState | undefined> {
    return this.database
      .sql<RefreshTokenStateRow>(
        `SELECT r.used_at, s.id, s.user_id, s.last_used_at, s.expires_at, s.revoked_at, u.roles, u.provider_roles, u.disabled
           FROM refresh_tokens r JOIN sessions s ON s.id = r.session_id JOIN users u ON u.id = s.user_id
          WHERE r.token_hash = :tokenHash`,
        { tokenHash },
      )
      .then(toState);
  }

  /**
   * Spends an unused token, recording its successor: one conditional UPDATE (… WHERE used_at IS NULL), so of any
   * number of concurrent spends exactly one changes the row (on PostgreSQL the others wait for its row lock and then
   * find `used_at` set). Resolves to whether this one did.
   */
  spend(tokenHash: string, successorHash: string, now: number): Promise<boolean> {
    return this.database
      .sql('UPDATE refresh_tokens SET used_at = :now, replaced_by = :successorHash WHERE token_hash = :tokenHash AND used_at IS NULL', {
        now,
        tokenHash,
        successorHash,
      })
      .then(({ affected }) => affected === 1);
  }

  /**
   * Retires the unused successor of a token spent after `spentAfter`: one conditional UPDATE, so of concurrent
   * retries (or a retry and a use of the successor itself) exactly one finds it unused. Resolves to whether this one
   * did.
   */
  retireSuccessor(tokenHash: string, spentAfter: number, now: number): Promise<boolean> {
    return this.database
      .sql(
        `UPDATE refresh_tokens SET used_at = :now
          WHERE used_at IS NULL
            AND token_hash = (SELECT r.replaced_by FROM refresh_tokens r WHERE r.token_hash = :tokenHash AND r.used_at > :spentAfter)`,
        { now, tokenHash, spentAfter },
      )
      .then(({ affected }) => affected === 1);
  }

  /** Resolves once stored. */
  touch(sessionId: string, now: number): Promise<unknown> {
    return this.database.sql('UPDATE sessions SET last_used_at = :now WHERE id = :sessionId', { now, sessionId });
  }

  /** Whether `rotateInOneStatement` can be used: PostgreSQL only (SQLite has no data-modifying WITH). */
  get rotatesInOneStatement(): boolean {
    return this.database.postgres;
  }

  /**
   * PostgreSQL: `spend`, `touch` and `addRefreshToken` of an unused token of an active session, in one statement;
   * undefined when that does not apply (unknown or spent token, session ended, user disabled). The conditions are
   * those of SessionsService.isActive, written in SQL. Concurrent uses queue on the token's row lock and, re-checked
   * after the winner commits, find `used_at` set (READ COMMITTED re-evaluation), so exactly one wins (SECURITY.md R3).
   */
  rotateInOneStatement(tokenHash: string, successorHash: string, now: number, idleSince: number): Promise<TokenOwner | undefined> {
    return this.database
      .sql<{ id: string; user_id: string; roles: string; provider_roles: string }>(
        `WITH spent AS (
           UPDATE refresh_tokens r SET used_at = :now, replaced_by = :successorHash
             FROM sessions s JOIN users u ON u.id = s.user_id
            WHERE r.token_hash = :tokenHash AND r.used_at IS NULL AND s.id = r.session_id AND NOT u.disabled
              AND s.revoked_at IS NULL AND s.expires_at > :now AND s.last_used_at > :idleSince
           RETURNING s.id, s.user_id, u.roles, u.provider_roles
         ), touched AS (
           UPDATE sessions SET last_used_at = :now FROM spent WHERE sessions.id = spent.id
         ), added AS (
           INSERT INTO refresh_tokens (token_hash, session_id, created_at, used_at) SELECT :successorHash, id, :now, NULL FROM spent
         )
         SELECT id, user_id, roles, provider_roles FROM spent`,
        { now, tokenHash, idleSince, successorHash },
      )
      .then(
        ({ rows: [row] }) =>
          row && {
            session: { id: row.id, userId: row.user_id },
            user: { roles: JSON.parse(row.roles) as string[], providerRoles: JSON.parse(row.provider_roles) as string[] },
          },
      );
  }

  findRefreshToken(tokenHash: string): Promise<RefreshToken | null> {
    return this.database.run((manager) => manager.findOneBy(RefreshToken, { tokenHash }));
  }

  find(id: string, userId?: string): Promise<Session | null> {
    return this.database.run((manager) => manager.findOneBy(Session, userId === undefined ? { id } : { id, userId }));
  }

  /** The session of a refresh token, whether or not it is still active. */
  async findByRefreshToken(tokenHash: string): Promise<Session | null> {
    return this.database.run(async (manager) => {
      const token = await manager.findOneBy(RefreshToken, { tokenHash });
      return token && manager.findOneBy(Session, { id: token.sessionId });
    });
  }

  /** Marks the session revoked unless it already is; returns whether this did. */
  async revoke(id: string, reason: string, now: number): Promise<boolean> {
    const res = await this.database.run((manager) =>
      manager.update(Session, { id, revokedAt: IsNull() }, { revokedAt: now, revokedReason: reason }),
    );
    return res.affected === 1;
  }

  /** The ids of the unrevoked sessions signed in through this browser session. */
  async activeChildrenOf(browserSessionId: string): Promise<string[]> {
    const rows = await this.database.run((manager) =>
      manager.find(Session, { select: { id: true }, where: { browserSessionId, revokedAt: IsNull() } }),
    );
    return rows.map((r) => r.id);
  }

  /** Marks every unrevoked session of the user revoked; returns how many. */
  async revokeAllOf(userId: string, reason: string, now: number): Promise<number> {
    const res = await this.database.run((manager) =>
      manager.update(Session, { userId, revokedAt: IsNull() }, { revokedAt: now, revokedReason: reason }),
    );
    return res.affected ?? 0;
  }

  setLastUsed(id: string, now: number): Promise<unknown> {
    return this.database.run((manager) => manager.update(Session, { id }, { lastUsedAt: now }));
  }

  /** The user's sessions not revoked, newest first (some may have expired). */
  unrevokedOf(userId: string): Promise<Session[]> {
    return this.database.run((manager) => manager.find(Session, { where: { userId, revokedAt: IsNull() }, order: { createdAt: 'DESC' } }));
  }
}
