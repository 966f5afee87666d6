import { Table, type MigrationInterface, type QueryRunner } from 'typeorm';

/**
 * One row per running instance, rewritten by its readiness check (at most every few seconds): the write that proves the
 * database still takes writes, which `SELECT 1` cannot (issue 19: a full disk left readiness at 200).
 */
export class HealthHeartbeats1764719300000 implements MigrationInterface {
  name = 'HealthHeartbeats1764719300000';

  async up(q: QueryRunner): Promise<void> {
    await q.createTable(
      new Table({
        name: 'health_heartbeats',
        columns: [
          { name: 'instance', type: 'varchar', length: '64', isPrimary: true },
          { name: 'beat_at', type: 'bigint' },
        ],
      }),
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.dropTable('health_heartbeats');
  }
}
