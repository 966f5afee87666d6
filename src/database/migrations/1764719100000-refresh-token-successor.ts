import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * `refresh_tokens.replaced_by`: the hash of the token that spending this one issued (issue 19). A spent token whose
 * successor is still unused can then be recognised, within REFRESH_REUSE_GRACE, as a retry whose answer was lost.
 *
 * Plain `ALTER TABLE … ADD COLUMN`, the same text on SQLite and PostgreSQL: a nullable column without a default is a
 * change of the table's description only on both, where TypeORM's `addColumn` rebuilds the whole table on SQLite
 * (a copy of every refresh token ever issued, under the write lock).
 */
export class RefreshTokenSuccessor1764719100000 implements MigrationInterface {
  name = 'RefreshTokenSuccessor1764719100000';

  async up(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE refresh_tokens ADD COLUMN replaced_by varchar(64)');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE refresh_tokens DROP COLUMN replaced_by');
  }
}
