import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import type { DatabaseConfig } from '../../src/config/config.js';
import { dataSourceOptions } from '../../src/database/data-source.js';
import { describeOnTestDatabase, TEST_DB } from '../support/medium.js';
import { createTestDatabase } from '../support/postgres.js';

/** The migrations on a fresh database of the tier's kind (SQLite, or PostgreSQL under TEST_DB=postgres): up, down, up. */
(await describeOnTestDatabase())(`migrations on ${TEST_DB}`, () => {
  let ds: DataSource;
  let removeDatabase: () => Promise<void>;

  beforeAll(async () => {
    let database: DatabaseConfig;
    if (TEST_DB === 'postgres') {
      const pg = await createTestDatabase();
      database = { type: 'postgres', url: pg.url };
      removeDatabase = pg.drop;
    } else {
      const dir = mkdtempSync(join(tmpdir(), 'sls-migrations-'));
      database = { type: 'sqlite', path: join(dir, 'app.db') };
      removeDatabase = async () => rmSync(dir, { recursive: true, force: true });
    }
    // migrationsRun: every migration applied as at start-up.
    ds = await new DataSource(dataSourceOptions(database)).initialize();
  });

  afterAll(async () => {
    await ds?.destroy();
    await removeDatabase?.();
  });

  const MIGRATION = 'GrantSessionsClient1764900200000';

  const indexesOf = async (table: string) => {
    const q = ds.createQueryRunner();
    try {
      return (await q.getTable(table))!.indices.map((i) => ({ name: i.name, columns: i.columnNames }));
    } finally {
      await q.release();
    }
  };

  it('oidc_grant_sessions is indexed by client_id (a client disabled finds its grants without a scan), and down drops only that', async () => {
    const client = { name: 'idx_oidc_grant_sessions_client', columns: ['client_id'] };
    const before = await indexesOf('oidc_grant_sessions');
    expect(before).toContainEqual(client);

    // Undone back to and including this migration (later ones, added after it, are undone first and redone after).
    const timestamp = (name: string) => Number(/\d+$/.exec(name)![0]);
    const names = ds.migrations.map((m) => m.name!).sort((a, b) => timestamp(a) - timestamp(b));
    expect(names).toContain(MIGRATION);
    const steps = names.length - names.indexOf(MIGRATION);
    for (let i = 0; i < steps; i++) await ds.undoLastMigration({ transaction: 'each' });
    const after = await indexesOf('oidc_grant_sessions');
    expect(after).not.toContainEqual(client);
    // The other indexes of the table stay (session_id, user_id).
    expect(after).toEqual(expect.arrayContaining(before.filter((i) => i.name !== client.name)));
    if (steps === 1) expect(after).toHaveLength(before.length - 1);

    expect((await ds.runMigrations({ transaction: 'each' })).map((m) => m.name)).toEqual(names.slice(-steps));
    expect(await indexesOf('oidc_grant_sessions')).toContainEqual(client);
  });

  if (TEST_DB === 'sqlite') {
    it("grantsOfClient's query reads the index, not the table", async () => {
      const plan: { detail: string }[] = await ds.query(
        'EXPLAIN QUERY PLAN SELECT grant_id, session_id, client_id, user_id FROM oidc_grant_sessions WHERE client_id = ?',
        ['c'],
      );
      expect(plan.map((p) => p.detail).join('\n')).toMatch(/USING INDEX idx_oidc_grant_sessions_client/);
    });
  }
});
