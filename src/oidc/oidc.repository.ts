import { Injectable } from '@nestjs/common';
import type { AdapterPayload } from 'oidc-provider';
import { Database } from '../database/db.service.js';

/** How long a binding outlives the end of its session before the purge takes it. */
export const BINDING_GRACE_MS = 86_400_000;

/** A row of oidc_payloads, as oidc-provider's adapter contract wants it back. */
interface PayloadRow {
  payload: string;
  expires_at: string | number | null;
  consumed_at: string | number | null;
}

/** What the OpenID Provider reads of an API client (api_clients, with the OAuth columns of issue 17). */
export interface OAuthClientRow {
  client_id: string;
  name: string;
  disabled: boolean | number;
  secret_hash: string;
  redirect_uris: string | null;
  post_logout_redirect_uris: string | null;
  grant_types: string | null;
  token_endpoint_auth_method: string | null;
  backchannel_logout_uri: string | null;
  first_party: boolean | number;
}

export interface GrantSession {
  grant_id: string;
  session_id: string;
  client_id: string;
  user_id: string;
}

/**
 * The OpenID Provider's SQL: oidc-provider's storage (one table, the adapter contract of its example adapters) and the
 * two bindings to our sessions. Plain SQL through Database.sql, the same text on SQLite and PostgreSQL. Times are epoch ms
 * of the system clock, which is what oidc-provider computes its own expiries from.
 */
@Injectable()
export class OidcRepository {
  constructor(private readonly database: Database) {}

  async find(model: string, id: string): Promise<AdapterPayload | undefined> {
    const { rows } = await this.database.sql<PayloadRow>(
      'SELECT payload, expires_at, consumed_at FROM oidc_payloads WHERE model = :model AND id = :id',
      {
        model,
        id,
      },
    );
    return this.payloadOf(rows[0]);
  }

  async findByUid(model: string, uid: string): Promise<AdapterPayload | undefined> {
    const { rows } = await this.database.sql<PayloadRow>(
      'SELECT payload, expires_at, consumed_at FROM oidc_payloads WHERE model = :model AND uid = :uid',
      {
        model,
        uid,
      },
    );
    return this.payloadOf(rows[0]);
  }

  async upsert(model: string, id: string, payload: AdapterPayload, expiresIn: number): Promise<void> {
    await this.database.sql(
      `INSERT INTO oidc_payloads (model, id, payload, grant_id, uid, expires_at, consumed_at)
         VALUES (:model, :id, :payload, :grantId, :uid, :expiresAt, NULL)
         ON CONFLICT (model, id) DO UPDATE SET payload = excluded.payload, grant_id = excluded.grant_id, uid = excluded.uid,
           expires_at = excluded.expires_at`,
      {
        model,
        id,
        payload: JSON.stringify(payload),
        grantId: payload.grantId ?? null,
        uid: payload.uid ?? null,
        expiresAt: expiresIn ? Date.now() + expiresIn * 1000 : null,
      },
    );
  }

  /** Marks it consumed; false when it already was (or is gone): of concurrent consumers exactly one gets true. */
  async consume(model: string, id: string): Promise<boolean> {
    const { affected } = await this.database.sql(
      'UPDATE oidc_payloads SET consumed_at = :now WHERE model = :model AND id = :id AND consumed_at IS NULL',
      {
        now: Date.now(),
        model,
        id,
      },
    );
    return affected === 1;
  }

  async destroy(model: string, id: string): Promise<void> {
    await this.database.sql('DELETE FROM oidc_payloads WHERE model = :model AND id = :id', { model, id });
  }

  async revokeByGrantId(grantId: string): Promise<void> {
    await this.database.sql('DELETE FROM oidc_payloads WHERE grant_id = :grantId', { grantId });
  }

  /**
   * The hourly purge: expired protocol records, and the bindings whose session of ours is long gone (deleted, revoked,
   * past its absolute or idle lifetime more than BINDING_GRACE_MS ago, so whatever reads an ended session's binding,
   * such as back-channel logout, has had its turn). A grant whose binding goes loses its records too: a refresh
   * token of it would otherwise look like a grant's first token and start a new session (sessionForGrant).
   */
  async purgeExpired(sessionIdleMs?: number): Promise<void> {
    const now = Date.now();
    await this.database.sql('DELETE FROM oidc_payloads WHERE expires_at < :now', { now });
    if (sessionIdleMs === undefined) return;
    const params = { cutoff: now - BINDING_GRACE_MS, idleCutoff: now - BINDING_GRACE_MS - sessionIdleMs };
    const gone = (column: string) => `NOT EXISTS (SELECT 1 FROM sessions s WHERE s.id = ${column}
        AND (s.revoked_at IS NULL OR s.revoked_at >= :cutoff) AND s.expires_at >= :cutoff AND s.last_used_at >= :idleCutoff)`;
    await this.database.transaction(async () => {
      await this.database.sql(
        `DELETE FROM oidc_payloads WHERE grant_id IN (SELECT grant_id FROM oidc_grant_sessions WHERE ${gone('oidc_grant_sessions.session_id')})
            OR (model = 'Grant' AND id IN (SELECT grant_id FROM oidc_grant_sessions WHERE ${gone('oidc_grant_sessions.session_id')}))`,
        params,
      );
      await this.database.sql(`DELETE FROM oidc_grant_sessions WHERE ${gone('oidc_grant_sessions.session_id')}`, params);
      await this.database.sql(`DELETE FROM oidc_browser_sessions WHERE ${gone('oidc_browser_sessions.browser_session_id')}`, params);
    });
  }

  async client(clientId: string): Promise<OAuthClientRow | undefined> {
    const { rows } = await this.database.sql<OAuthClientRow>(
      `SELECT client_id, name, disabled, secret_hash, redirect_uris, post_logout_redirect_uris, grant_types,
                token_endpoint_auth_method, backchannel_logout_uri, first_party
           FROM api_clients WHERE client_id = :clientId`,
      { clientId },
    );
    return rows[0];
  }

  /** Records that oidc-provider's session `uid` mirrors our browser session. */
  async bindBrowserSession(sessionUid: string, browserSessionId: string, userId: string): Promise<void> {
    await this.database.sql(
      `INSERT INTO oidc_browser_sessions (session_uid, browser_session_id, user_id, created_at)
         VALUES (:sessionUid, :browserSessionId, :userId, :now)
         ON CONFLICT (session_uid) DO UPDATE SET browser_session_id = excluded.browser_session_id, user_id = excluded.user_id`,
      { sessionUid, browserSessionId, userId, now: Date.now() },
    );
  }

  async browserSessionOf(sessionUid: string): Promise<{ browserSessionId: string; userId: string } | undefined> {
    const { rows } = await this.database.sql<{ browser_session_id: string; user_id: string }>(
      'SELECT browser_session_id, user_id FROM oidc_browser_sessions WHERE session_uid = :sessionUid',
      { sessionUid },
    );
    return rows[0] && { browserSessionId: rows[0].browser_session_id, userId: rows[0].user_id };
  }

  async grantSession(grantId: string): Promise<GrantSession | undefined> {
    const { rows } = await this.database.sql<GrantSession>(
      'SELECT grant_id, session_id, client_id, user_id FROM oidc_grant_sessions WHERE grant_id = :grantId',
      {
        grantId,
      },
    );
    return rows[0];
  }

  /**
   * Binds a grant to its session of ours; false when the grant has one already (a concurrent first token of the same
   * grant bound it first: the caller takes that one).
   */
  async addGrantSession(row: GrantSession & { oidcSid: string | null }): Promise<boolean> {
    const { rows } = await this.database.sql(
      `INSERT INTO oidc_grant_sessions (grant_id, session_id, client_id, user_id, oidc_sid, created_at)
         VALUES (:grantId, :sessionId, :clientId, :userId, :oidcSid, :now)
         ON CONFLICT (grant_id) DO NOTHING RETURNING grant_id`,
      {
        grantId: row.grant_id,
        sessionId: row.session_id,
        clientId: row.client_id,
        userId: row.user_id,
        oidcSid: row.oidcSid,
        now: Date.now(),
      },
    );
    return rows.length === 1;
  }

  /**
   * Whether the browser session is unrevoked, holding its row until the transaction ends: its revocation (a logout),
   * which updates the row before it ends the sessions signed in through it, either waits for this transaction, and then
   * ends the session started here too, or has revoked it already, and this answers false.
   */
  async holdUnrevokedSession(sessionId: string): Promise<boolean> {
    const { affected } = await this.database.sql(
      'UPDATE sessions SET revoked_at = revoked_at WHERE id = :sessionId AND revoked_at IS NULL',
      { sessionId },
    );
    return affected === 1;
  }

  /**
   * Whether the grant still exists, holding its row until the transaction ends: a concurrent revocation (consent,
   * client, RFC 7009), which destroys the row before it reads the grant's sessions, either waits for this transaction,
   * and then finds the session it bound, or has destroyed the row already, and this answers false.
   */
  async lockGrant(grantId: string): Promise<boolean> {
    const { affected } = await this.database.sql(
      "UPDATE oidc_payloads SET expires_at = expires_at WHERE model = 'Grant' AND id = :grantId",
      { grantId },
    );
    return affected === 1;
  }

  private payloadOf(row: PayloadRow | undefined): AdapterPayload | undefined {
    if (!row) return undefined;
    if (row.expires_at !== null && Number(row.expires_at) <= Date.now()) return undefined;
    const payload = JSON.parse(row.payload) as AdapterPayload;
    if (row.consumed_at !== null) payload.consumed = Math.floor(Number(row.consumed_at) / 1000);
    return payload;
  }
}
