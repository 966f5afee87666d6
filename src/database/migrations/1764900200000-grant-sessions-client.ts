import { TableIndex, type MigrationInterface, type QueryRunner } from 'typeorm';

/**
 * Disabling or deleting a client ends the sessions it holds for people (SECURITY.md O11): ClientTokensService
 * .endClientGrants finds them with OidcGrantsRepository.grantsOfClient, which reads `oidc_grant_sessions` by
 * `client_id`. That column had no index (only `session_id` and `user_id` do), so each disable scanned every grant of
 * every client.
 */
export class GrantSessionsClient1764900200000 implements MigrationInterface {
  name = 'GrantSessionsClient1764900200000';

  async up(q: QueryRunner): Promise<void> {
    await q.createIndex('oidc_grant_sessions', new TableIndex({ name: 'idx_oidc_grant_sessions_client', columnNames: ['client_id'] }));
  }

  async down(q: QueryRunner): Promise<void> {
    await q.dropIndex('oidc_grant_sessions', 'idx_oidc_grant_sessions_client');
  }
}
