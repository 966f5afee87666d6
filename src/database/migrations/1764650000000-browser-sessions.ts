import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Which browser session an app's session was signed in through (and, until the code is spent, its code): an app's
 * logout ends that browser session too. Plain ALTER TABLE … ADD COLUMN, which SQLite and PostgreSQL both run in place.
 */
export class BrowserSessions1764650000000 implements MigrationInterface {
  name = 'BrowserSessions1764650000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE sessions ADD COLUMN browser_session_id varchar(36) NULL');
    await q.query('ALTER TABLE authorization_codes ADD COLUMN browser_session_id varchar(36) NULL');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE authorization_codes DROP COLUMN browser_session_id');
    await q.query('ALTER TABLE sessions DROP COLUMN browser_session_id');
  }
}
