import { Injectable } from '@nestjs/common';
import { Database } from '../database/db.service.js';
import type { GrantSession } from './oidc.repository.js';

/**
 * The SQL of ending a client's grants (RFC 7009 revocation, a client disabled or deleted): which grants a session or a
 * client holds, and the grant's protocol records. Kept apart from OidcRepository (the adapter's storage), which it only
 * reads the same tables of.
 */
@Injectable()
export class OidcGrantsRepository {
  constructor(private readonly database: Database) {}

  /** The grants whose tokens carry this session of ours as their `sid` (one, unless a grant was bound twice). */
  async grantsOfSession(sessionId: string): Promise<GrantSession[]> {
    const { rows } = await this.database.sql<GrantSession>(
      'SELECT grant_id, session_id, client_id, user_id FROM oidc_grant_sessions WHERE session_id = :sessionId',
      { sessionId },
    );
    return rows;
  }

  /** Every grant a client holds for people (ended or not: ending one twice is a no-op). */
  async grantsOfClient(clientId: string): Promise<GrantSession[]> {
    const { rows } = await this.database.sql<GrantSession>(
      'SELECT grant_id, session_id, client_id, user_id FROM oidc_grant_sessions WHERE client_id = :clientId',
      { clientId },
    );
    return rows;
  }

  /**
   * The grants of a client that oidc-provider holds, bound to a session of ours or not yet (a code not exchanged):
   * their ids. The payload is JSON text; the LIKE only narrows the scan (`_` in a client id is a wildcard there), the
   * parsed `clientId` decides.
   */
  async grantIdsOfClient(clientId: string): Promise<string[]> {
    const { rows } = await this.database.sql<{ id: string; payload: string }>(
      "SELECT id, payload FROM oidc_payloads WHERE model = 'Grant' AND payload LIKE :pattern",
      { pattern: `%${JSON.stringify({ clientId }).slice(1, -1)}%` },
    );
    return rows.filter((r) => (JSON.parse(r.payload) as { clientId?: unknown }).clientId === clientId).map((r) => r.id);
  }

  /**
   * The grant and everything issued under it (codes, refresh tokens): oidc-provider's records of one grant, which a
   * refresh or a code exchange would find. Our session is ended apart, through SessionsService (the feed).
   */
  async destroyGrant(grantId: string): Promise<void> {
    await this.database.sql("DELETE FROM oidc_payloads WHERE grant_id = :grantId OR (model = 'Grant' AND id = :grantId)", { grantId });
  }
}
