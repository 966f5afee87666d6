import { TableIndex, type MigrationInterface, type QueryRunner } from 'typeorm';

/**
 * Admin search at a million users: newest-first pages walk an index and stop at the page's end, and a provider subject
 * is found through an index instead of a sub-query per user.
 */
export class SearchIndexes1764500000000 implements MigrationInterface {
  name = 'SearchIndexes1764500000000';

  async up(q: QueryRunner): Promise<void> {
    await q.createIndex('users', new TableIndex({ name: 'idx_users_created', columnNames: ['created_at', 'id'] }));
    await q.createIndex('identities', new TableIndex({ name: 'idx_identities_subject', columnNames: ['subject'] }));
  }

  async down(q: QueryRunner): Promise<void> {
    await q.dropIndex('identities', 'idx_identities_subject');
    await q.dropIndex('users', 'idx_users_created');
  }
}
