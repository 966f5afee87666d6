import { Table, type MigrationInterface, type QueryRunner } from 'typeorm';

/** A person's consents and their grants' records go with the person (deleting a user deletes what they allowed). */
const byUser = { columnNames: ['user_id'], referencedTableName: 'users', referencedColumnNames: ['id'], onDelete: 'CASCADE' };

/**
 * Consent for third-party clients of the OpenID Provider (issue 17, SECURITY.md O6): what each person allowed each
 * client (remembered across browsers and sessions, listed and revoked under "Apps with access"), and every
 * oidc-provider grant made from it, so that revoking the consent can destroy each of them.
 */
export class OidcConsents1764900000000 implements MigrationInterface {
  name = 'OidcConsents1764900000000';

  async up(q: QueryRunner): Promise<void> {
    await q.createTable(
      new Table({
        name: 'oidc_consents',
        columns: [
          { name: 'user_id', type: 'varchar', length: '36', isPrimary: true },
          { name: 'client_id', type: 'varchar', length: '64', isPrimary: true },
          // JSON arrays: the scopes and the claims (claims parameter) allowed.
          { name: 'scopes', type: 'text' },
          { name: 'claims', type: 'text' },
          { name: 'created_at', type: 'bigint' },
          { name: 'updated_at', type: 'bigint' },
        ],
        indices: [{ name: 'idx_oidc_consents_client', columnNames: ['client_id'] }],
        foreignKeys: [byUser],
      }),
    );
    await q.createTable(
      new Table({
        name: 'oidc_consent_grants',
        columns: [
          { name: 'grant_id', type: 'varchar', length: '64', isPrimary: true },
          { name: 'user_id', type: 'varchar', length: '36' },
          { name: 'client_id', type: 'varchar', length: '64' },
          { name: 'created_at', type: 'bigint' },
        ],
        indices: [{ name: 'idx_oidc_consent_grants_owner', columnNames: ['user_id', 'client_id'] }],
        foreignKeys: [byUser],
      }),
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.dropTable('oidc_consent_grants');
    await q.dropTable('oidc_consents');
  }
}
