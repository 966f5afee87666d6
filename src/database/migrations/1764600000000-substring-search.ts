import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Admin search for part of an email address or name without reading every user.
 *
 * SQLite: an FTS5 trigram index (`users_search`, contentless: it keeps the trigrams, not a second copy of the text)
 * whose rows are keyed by `users_search_ids`, an INTEGER PRIMARY KEY per user — stable across VACUUM, which the
 * implicit rowid of `users` is not. Triggers keep it in step with `users`, and only when email or name really change
 * (every sign-in rewrites both with the same values). A later migration that makes TypeORM rebuild `users` on SQLite
 * (add/drop/alter a column) drops these triggers and must create them again.
 *
 * PostgreSQL: pg_trgm GIN indexes on the same lower-cased expressions the search's LIKE uses. pg_trgm is a trusted
 * extension, but where it cannot be created the search still works, by scanning.
 */
export class SubstringSearch1764600000000 implements MigrationInterface {
  name = 'SubstringSearch1764600000000';

  async up(q: QueryRunner): Promise<void> {
    if (q.connection.options.type === 'postgres') {
      await q.query('SAVEPOINT trgm');
      try {
        await q.query('CREATE EXTENSION IF NOT EXISTS pg_trgm');
        await q.query('CREATE INDEX idx_users_email_trgm ON users USING gin (LOWER(email) gin_trgm_ops)');
        await q.query('CREATE INDEX idx_users_name_trgm ON users USING gin (LOWER(name) gin_trgm_ops)');
        await q.query('RELEASE SAVEPOINT trgm');
      } catch {
        await q.query('ROLLBACK TO SAVEPOINT trgm');
      }
      return;
    }
    await q.query('CREATE TABLE users_search_ids (search_rowid INTEGER PRIMARY KEY, user_id varchar(36) NOT NULL UNIQUE)');
    await q.query("CREATE VIRTUAL TABLE users_search USING fts5(email, name, tokenize = 'trigram', content = '', contentless_delete = 1)");
    await q.query('INSERT INTO users_search_ids (user_id) SELECT id FROM users');
    await q.query(
      'INSERT INTO users_search (rowid, email, name) SELECT m.search_rowid, u.email, u.name FROM users u JOIN users_search_ids m ON m.user_id = u.id',
    );
    await q.query(`CREATE TRIGGER users_search_insert AFTER INSERT ON users BEGIN
      INSERT INTO users_search_ids (user_id) VALUES (new.id);
      INSERT INTO users_search (rowid, email, name) SELECT search_rowid, new.email, new.name FROM users_search_ids WHERE user_id = new.id;
    END`);
    await q.query(`CREATE TRIGGER users_search_update AFTER UPDATE OF email, name ON users
      WHEN old.email IS NOT new.email OR old.name IS NOT new.name BEGIN
      DELETE FROM users_search WHERE rowid = (SELECT search_rowid FROM users_search_ids WHERE user_id = new.id);
      INSERT INTO users_search (rowid, email, name) SELECT search_rowid, new.email, new.name FROM users_search_ids WHERE user_id = new.id;
    END`);
    await q.query(`CREATE TRIGGER users_search_delete AFTER DELETE ON users BEGIN
      DELETE FROM users_search WHERE rowid = (SELECT search_rowid FROM users_search_ids WHERE user_id = old.id);
      DELETE FROM users_search_ids WHERE user_id = old.id;
    END`);
  }

  async down(q: QueryRunner): Promise<void> {
    if (q.connection.options.type === 'postgres') {
      await q.query('DROP INDEX IF EXISTS idx_users_name_trgm');
      await q.query('DROP INDEX IF EXISTS idx_users_email_trgm');
      return;
    }
    for (const t of ['users_search_delete', 'users_search_update', 'users_search_insert']) await q.query(`DROP TRIGGER ${t}`);
    await q.query('DROP TABLE users_search');
    await q.query('DROP TABLE users_search_ids');
  }
}
