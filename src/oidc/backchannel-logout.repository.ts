import { Injectable } from '@nestjs/common';
import { Database } from '../database/db.service.js';

/** A logout token to deliver: to which client, for which of its sessions (the oidc sid), whose. */
export interface LogoutDelivery {
  clientId: string;
  sid: string;
  grantId: string;
  sessionId: string;
  userId: string;
  /** The `sid` of the client's ID tokens, if it had one. */
  oidcSid: string | null;
  /** Attempts made before this one. */
  attempts: number;
}

interface DeliveryRow {
  client_id: string;
  sid: string;
  grant_id: string;
  session_id: string;
  user_id: string;
  oidc_sid: string | null;
  attempts: string | number;
}

/**
 * A pending delivery, due now, for each grant selected after this (alias `g`) whose client has a back-channel logout
 * URI: the head both ways of queuing share (a session's end read from the feed, and one that ran out).
 */
const QUEUE_GRANTS = `INSERT INTO oidc_logout_deliveries
              (client_id, sid, grant_id, session_id, user_id, oidc_sid, state, attempts, next_attempt_at, claimed_until, last_status, created_at, updated_at)
       SELECT g.client_id, COALESCE(g.oidc_sid, g.grant_id), g.grant_id, g.session_id, g.user_id, g.oidc_sid, 'pending', 0, :now, NULL, NULL, :now, :now
         FROM oidc_grant_sessions g
         JOIN api_clients a ON a.client_id = g.client_id AND a.backchannel_logout_uri IS NOT NULL`;

/**
 * The SQL of Back-Channel Logout (oidc_logout_deliveries): which clients' sessions ended (read from a stretch of the
 * revocation feed) or ran out, and the deliveries' state, each change one conditional statement so that instances
 * sharing the database never both hold one delivery.
 */
@Injectable()
export class BackchannelLogoutRepository {
  constructor(private readonly database: Database) {}

  /**
   * Queues a delivery for every client session with a back-channel logout URI that the feed rows written after `since`
   * ended, and that ended after `endedSince`: its own session revoked (code or refresh reuse, admin, the account page,
   * an app's logout), the browser session it was given in revoked (a logout at our pages, RP-initiated logout), or its
   * user deleted (the sessions go with the user, the grant's row stays). Idempotent: the key (client, sid) is taken
   * once, so overlapping windows, several ways one session ends, and several instances queue one delivery. A feed row
   * that ended nothing (a role change's `user` row) finds no ended session; a session that had expired (absolute or
   * idle lifetime, `window`) before someone revoked it had ended already and is not told again. Returns how many were
   * queued.
   */
  async enqueueEnded(since: number, endedSince: number, now: number, window: { idleMs: number; lifetimeMs: number }): Promise<number> {
    const { affected } = await this.database.sql(
      `${QUEUE_GRANTS}
         LEFT JOIN sessions s ON s.id = g.session_id
         LEFT JOIN sessions b ON b.id = s.browser_session_id
         LEFT JOIN users u ON u.id = g.user_id
        WHERE g.grant_id IN (
                SELECT g1.grant_id FROM revocations r JOIN oidc_grant_sessions g1 ON g1.user_id = r.subject
                 WHERE r.kind = 'user' AND r.at > :since
                UNION
                SELECT g2.grant_id FROM revocations r JOIN oidc_grant_sessions g2 ON g2.session_id = r.subject
                 WHERE r.kind = 'session' AND r.at > :since
                UNION
                SELECT g3.grant_id FROM revocations r JOIN sessions c ON c.browser_session_id = r.subject
                  JOIN oidc_grant_sessions g3 ON g3.session_id = c.id
                 WHERE r.kind = 'session' AND r.at > :since)
          AND g.created_at > :liveSince
          AND ((s.id IS NULL AND u.id IS NULL)
               OR (s.expires_at > :endedSince AND s.last_used_at > :idleSince
                   AND (s.revoked_at > :endedSince OR (s.revoked_at IS NULL AND b.revoked_at > :endedSince))))
       ON CONFLICT (client_id, sid) DO NOTHING`,
      { since, endedSince, idleSince: endedSince - window.idleMs, liveSince: endedSince - window.lifetimeMs, now },
    );
    return affected;
  }

  /**
   * Queues a delivery for every client session with a back-channel logout URI whose session ran out after `from` and
   * by `now` — its absolute lifetime (`expires_at`) or its idle time (`last_used_at` + REFRESH_IDLE_TTL), whichever
   * came first — unrevoked until then: an end that writes no feed row, since nothing happens at that moment. Keyed
   * as enqueueEnded (client, sid), so overlapping windows and instances queue one delivery. Returns how many.
   */
  async enqueueExpired(from: number, now: number, window: { idleMs: number; lifetimeMs: number }): Promise<number> {
    const ended = `(CASE WHEN s.expires_at < s.last_used_at + :idleMs THEN s.expires_at ELSE s.last_used_at + :idleMs END)`;
    const { affected } = await this.database.sql(
      `${QUEUE_GRANTS}
         JOIN sessions s ON s.id = g.session_id
        WHERE g.created_at > :liveSince
          AND ${ended} > :from AND ${ended} <= :now
          AND (s.revoked_at IS NULL OR s.revoked_at > ${ended})
       ON CONFLICT (client_id, sid) DO NOTHING`,
      { from, now, idleMs: window.idleMs, liveSince: from - window.lifetimeMs },
    );
    return affected;
  }

  /** Deliveries due at `now` that no live instance holds, oldest first. */
  async due(now: number, limit: number): Promise<LogoutDelivery[]> {
    const { rows } = await this.database.sql<DeliveryRow>(
      `SELECT client_id, sid, grant_id, session_id, user_id, oidc_sid, attempts FROM oidc_logout_deliveries
        WHERE state = 'pending' AND next_attempt_at <= :now AND (claimed_until IS NULL OR claimed_until < :now)
        ORDER BY next_attempt_at LIMIT ${Math.floor(limit)}`,
      { now },
    );
    return rows.map((r) => ({
      clientId: r.client_id,
      sid: r.sid,
      grantId: r.grant_id,
      sessionId: r.session_id,
      userId: r.user_id,
      oidcSid: r.oidc_sid,
      attempts: Number(r.attempts),
    }));
  }

  /**
   * Takes a delivery for one attempt until `until`: one conditional UPDATE (compare-and-set on `attempts` and the
   * claim), so of instances racing for it exactly one changes the row (on PostgreSQL the others wait for its row lock
   * and then find it changed, READ COMMITTED re-evaluation). Whether this one did.
   */
  async claim(d: LogoutDelivery, now: number, until: number): Promise<boolean> {
    const { affected } = await this.database.sql(
      `UPDATE oidc_logout_deliveries SET claimed_until = :until, attempts = attempts + 1, updated_at = :now
        WHERE client_id = :clientId AND sid = :sid AND state = 'pending' AND attempts = :attempts
          AND next_attempt_at <= :now AND (claimed_until IS NULL OR claimed_until < :now)`,
      { until, now, clientId: d.clientId, sid: d.sid, attempts: d.attempts },
    );
    return affected === 1;
  }

  /** The attempt's outcome: done (`sent`, `failed`, `skipped`), or `pending` again at `nextAttemptAt`. */
  async settle(
    d: Pick<LogoutDelivery, 'clientId' | 'sid'>,
    state: 'sent' | 'failed' | 'skipped' | 'pending',
    status: string,
    now: number,
    nextAttemptAt = now,
  ): Promise<void> {
    await this.database.sql(
      `UPDATE oidc_logout_deliveries SET state = :state, last_status = :status, claimed_until = NULL, next_attempt_at = :nextAttemptAt,
              updated_at = :now
        WHERE client_id = :clientId AND sid = :sid`,
      { state, status: status.slice(0, 128), nextAttemptAt, now, clientId: d.clientId, sid: d.sid },
    );
  }

  /** Finished deliveries are kept long enough to dedupe any later look at the same feed rows, then dropped. */
  async purgeFinished(before: number): Promise<void> {
    await this.database.sql(`DELETE FROM oidc_logout_deliveries WHERE state <> 'pending' AND updated_at < :before`, { before });
  }
}
