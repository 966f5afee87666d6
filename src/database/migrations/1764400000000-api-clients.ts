import { Table, type MigrationInterface, type QueryRunner } from 'typeorm';

/** API clients for the client-credentials grant (service accounts). */
export class ApiClients1764400000000 implements MigrationInterface {
  name = 'ApiClients1764400000000';

  async up(q: QueryRunner): Promise<void> {
    await q.createTable(
      new Table({
        name: 'api_clients',
        columns: [
          { name: 'client_id', type: 'varchar', length: '64', isPrimary: true },
          { name: 'name', type: 'varchar', length: '200' },
          { name: 'roles', type: 'text' },
          { name: 'scopes', type: 'text' },
          { name: 'disabled', type: 'boolean', default: false },
          { name: 'secret_hash', type: 'varchar', length: '64' },
          { name: 'previous_secret_hash', type: 'varchar', length: '64', isNullable: true },
          { name: 'previous_secret_expires_at', type: 'bigint', isNullable: true },
          { name: 'secret_rotated_at', type: 'bigint' },
          { name: 'created_at', type: 'bigint' },
          { name: 'updated_at', type: 'bigint' },
        ],
      }),
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.dropTable('api_clients');
  }
}
