import { Table, type MigrationInterface, type QueryRunner } from 'typeorm';

/** The change feed every instance polls: ended sessions, users whose older tokens stop working, key rotations. */
export class Revocations1764200000000 implements MigrationInterface {
  name = 'Revocations1764200000000';

  async up(q: QueryRunner): Promise<void> {
    const postgres = q.connection.options.type === 'postgres';
    await q.createTable(
      new Table({
        name: 'revocations',
        columns: [
          { name: 'id', type: postgres ? 'bigint' : 'integer', isPrimary: true, isGenerated: true, generationStrategy: 'increment' },
          { name: 'kind', type: 'varchar', length: '16' },
          { name: 'subject', type: 'varchar', length: '64', isNullable: true },
          { name: 'not_before', type: 'bigint', isNullable: true },
          { name: 'at', type: 'bigint' },
          { name: 'expires_at', type: 'bigint' },
        ],
        indices: [{ name: 'idx_revocations_expires', columnNames: ['expires_at'] }],
      }),
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.dropTable('revocations');
  }
}
