import { Table, TableIndex, type MigrationInterface, type QueryRunner } from 'typeorm';

/**
 * Back-Channel Logout 1.0 (issue 17, docs/openid-provider.md): one row per logout token to deliver, keyed by
 * (client, sid) so that however many instances and however many ways a session ends, a client is told once per
 * session (§2.4 `sid`); the state of its delivery (attempts, when to try again, which instance holds it). And the
 * indexes that find, from a revocation feed row, the clients' sessions it ended.
 */
export class BackchannelLogout1764900100000 implements MigrationInterface {
  name = 'BackchannelLogout1764900100000';

  async up(q: QueryRunner): Promise<void> {
    await q.createTable(
      new Table({
        name: 'oidc_logout_deliveries',
        columns: [
          { name: 'client_id', type: 'varchar', length: '64', isPrimary: true },
          // The oidc sid of the client's ID tokens (or the grant id, for a grant without one).
          { name: 'sid', type: 'varchar', length: '64', isPrimary: true },
          { name: 'grant_id', type: 'varchar', length: '64' },
          { name: 'session_id', type: 'varchar', length: '36' },
          { name: 'user_id', type: 'varchar', length: '36' },
          // The logout token's `sid`: NULL sends `sub` alone (§2.4 allows either).
          { name: 'oidc_sid', type: 'varchar', length: '64', isNullable: true },
          // pending → sent | failed (given up after BACKCHANNEL_LOGOUT_ATTEMPTS) | skipped (the client lost its URI).
          { name: 'state', type: 'varchar', length: '16' },
          { name: 'attempts', type: 'integer', default: 0 },
          { name: 'next_attempt_at', type: 'bigint' },
          // An instance sending it holds it until then; past that (the instance died), another may try.
          { name: 'claimed_until', type: 'bigint', isNullable: true },
          { name: 'last_status', type: 'varchar', length: '128', isNullable: true },
          { name: 'created_at', type: 'bigint' },
          { name: 'updated_at', type: 'bigint' },
        ],
        indices: [
          { name: 'idx_oidc_logout_deliveries_due', columnNames: ['state', 'next_attempt_at'] },
          { name: 'idx_oidc_logout_deliveries_updated', columnNames: ['updated_at'] },
        ],
      }),
    );
    await q.createIndex('revocations', new TableIndex({ name: 'idx_revocations_at', columnNames: ['at'] }));
    await q.createIndex('sessions', new TableIndex({ name: 'idx_sessions_browser_session', columnNames: ['browser_session_id'] }));
    await q.createIndex('oidc_grant_sessions', new TableIndex({ name: 'idx_oidc_grant_sessions_user', columnNames: ['user_id'] }));
  }

  async down(q: QueryRunner): Promise<void> {
    await q.dropIndex('oidc_grant_sessions', 'idx_oidc_grant_sessions_user');
    await q.dropIndex('sessions', 'idx_sessions_browser_session');
    await q.dropIndex('revocations', 'idx_revocations_at');
    await q.dropTable('oidc_logout_deliveries');
  }
}
