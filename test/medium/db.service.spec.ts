import { DataSource, QueryFailedError } from 'typeorm';
import { AuditEvent } from '../../src/audit/audit-event.entity.js';
import { User } from '../../src/accounts/user.entity.js';
import { dataSourceOptions } from '../../src/database/data-source.js';
import { Database, numberedParameters } from '../../src/database/db.service.js';
import { isUniqueViolation } from '../../src/database/errors.js';
import type { Database as SqliteConnection } from 'better-sqlite3';
import { mkdtempSync } from 'node:fs';
import { createTestDatabase, postgresAvailable } from '../support/postgres.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The SQLite driver shares one connection: without Database's queue, a write would be lost with another's rollback. */
describe('Database on SQLite', () => {
  let ds: DataSource;
  let db: Database;

  beforeAll(async () => {
    ds = await new DataSource({
      ...dataSourceOptions({ type: 'sqlite', path: join(mkdtempSync(join(tmpdir(), 'sls-db-')), 'app.db') }),
      entities: [User, AuditEvent],
    }).initialize();
    db = new Database(ds);
  });

  afterAll(async () => {
    await ds.destroy();
  });

  const event = (type: string) => ({
    at: Date.now(),
    type,
    actorId: null,
    userId: null,
    provider: null,
    reason: null,
    ip: null,
    userAgent: null,
    details: null,
  });

  it('keeps a write made while another unit’s transaction rolls back', async () => {
    const failing = db.transaction(async () => {
      await db.run((manager) => manager.insert(AuditEvent, event('rolled_back')));
      await new Promise((r) => setTimeout(r, 20));
      throw new Error('boom');
    });
    const meanwhile = db.run((manager) => manager.insert(AuditEvent, event('kept')));
    await expect(failing).rejects.toThrow('boom');
    await meanwhile;
    const types = (await ds.query('SELECT type FROM audit_events')).map((r: { type: string }) => r.type);
    expect(types).toEqual(['kept']);
  });

  it('runs after-commit work only when the transaction commits', async () => {
    const ran: string[] = [];
    await db.transaction(async () => {
      db.afterCommit(() => ran.push('committed'));
      expect(ran).toEqual([]);
    });
    await expect(
      db.transaction(async () => {
        db.afterCommit(() => ran.push('rolled back'));
        throw new Error('no');
      }),
    ).rejects.toThrow('no');
    expect(ran).toEqual(['committed']);
  });

  it('joins the current unit instead of queueing behind it: a transaction inside a transaction, and inside a run', async () => {
    const inner = await db.transaction(() =>
      db.transaction(async () => {
        await db.insertRow(AuditEvent, event('nested'));
        return db.run((manager) => manager.countBy(AuditEvent, { type: 'nested' }));
      }),
    );
    expect(inner).toBe(1);
    // A transaction opened inside a run (which already holds the queue) runs in it: BEGIN IMMEDIATE on the same turn.
    await expect(
      db.run(() =>
        db.transaction(async () => {
          await db.insertRow(AuditEvent, event('inside run'));
          throw new Error('undo');
        }),
      ),
    ).rejects.toThrow('undo');
    const rows: { type: string }[] = await ds.query(`SELECT type FROM audit_events WHERE type IN ('nested', 'inside run')`);
    expect(rows.map((r) => r.type)).toEqual(['nested']);
  });

  it('runs concurrent transactions one after another, none nested in another', async () => {
    const results = await Promise.allSettled(
      Array.from({ length: 20 }, (_, i) =>
        db.transaction(async () => {
          await db.run((manager) => manager.insert(AuditEvent, event(`t${i}`)));
          await new Promise((r) => setTimeout(r, 1));
          if (i % 2) throw new Error('odd');
        }),
      ),
    );
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(10);
    const rows: { type: string }[] = await ds.query(`SELECT type FROM audit_events WHERE type LIKE 't%' ORDER BY id`);
    expect(rows.map((r) => r.type)).toEqual(Array.from({ length: 10 }, (_, i) => `t${i * 2}`));
  });

  it('binds numbers as parameters, so a statement is prepared once whatever times it carries', async () => {
    const conn = (ds.driver as unknown as { databaseConnection: SqliteConnection }).databaseConnection;
    const prepare = conn.prepare.bind(conn);
    let prepared = 0;
    conn.prepare = ((text: string) => (prepared++, prepare(text))) as SqliteConnection['prepare'];
    try {
      for (let i = 0; i < 20; i++) {
        await db.sql('INSERT INTO audit_events (at, type, details) VALUES (:at, :type, NULL)', { at: 1_700_000_000_000 + i, type: 'sql' });
      }
    } finally {
      conn.prepare = prepare;
    }
    expect(prepared).toBe(1);
    const rows = await db.sql<{ at: number }>('SELECT at FROM audit_events WHERE type = :type ORDER BY at', { type: 'sql' });
    expect(rows.rows.map((r) => Number(r.at))).toEqual(Array.from({ length: 20 }, (_, i) => 1_700_000_000_000 + i));
  });

  it('writes and reads entity rows by plain SQL as TypeORM writes and reads (JSON, booleans, times, nulls)', async () => {
    const user: User = {
      id: '00000000-0000-4000-8000-000000000001',
      email: null,
      emailVerified: true,
      name: 'Ada',
      picture: null,
      roles: ['user', 'admin'],
      providerRoles: [],
      disabled: false,
      createdAt: 1_700_000_000_123,
      updatedAt: 1_700_000_000_456,
    };
    await db.insertRow(User, user);
    expect(await db.run((manager) => manager.findOneBy(User, { id: user.id }))).toEqual(user);
    expect(await db.findRow(User, { id: user.id })).toEqual(user);

    const changed = await db.updateRows(User, { id: user.id, email: null }, { email: 'ada@x.test', disabled: true, roles: ['user'] });
    expect(changed).toBe(1);
    const typeorm = await db.run((manager) => manager.findOneBy(User, { id: user.id }));
    expect(typeorm).toEqual({ ...user, email: 'ada@x.test', disabled: true, roles: ['user'] });
    expect(await db.findRow(User, { id: user.id })).toEqual(typeorm);
    expect(await db.findRow(User, { id: user.id, email: null })).toBeUndefined();
    await expect(db.updateRows(User, {}, { disabled: false })).rejects.toThrow('without conditions');
    const duplicate = await db.insertRow(User, user).catch((e: unknown) => e);
    expect(isUniqueViolation(duplicate)).toBe(true);
  });
});

/** PostgreSQL: `sql` statements are pg named (prepared) statements on pooled connections, run beside TypeORM's runner. */
((await postgresAvailable()) ? describe : describe.skip)('Database on PostgreSQL', () => {
  let ds: DataSource;
  let db: Database;
  let drop: () => Promise<void>;

  beforeAll(async () => {
    const created = await createTestDatabase();
    drop = created.drop;
    ds = await new DataSource({ ...dataSourceOptions({ type: 'postgres', url: created.url }), entities: [User, AuditEvent] }).initialize();
    db = new Database(ds);
  });

  afterAll(async () => {
    await ds.destroy();
    await drop();
  });

  const insertEvent = (type: string, at = 1_700_000_000_000) =>
    db.sql('INSERT INTO audit_events (at, type, details) VALUES (:at, :type, NULL) RETURNING id', { at, type });
  /** Prepared statements of this text on the connection that runs this query (in the transaction: its own). */
  const preparedHere = async (fragment: string) =>
    (await db.sql<{ n: string }>('SELECT count(*) AS n FROM pg_prepared_statements WHERE statement LIKE :like', { like: `%${fragment}%` }))
      .rows[0].n;

  it('prepares each text once per connection and answers rows and counts as before', async () => {
    // In one transaction, so every statement runs on the same connection.
    await db.transaction(async () => {
      for (let i = 0; i < 7; i++) expect((await insertEvent('prepared', 1_700_000_000_000 + i)).affected).toBe(1);
      expect(await preparedHere('INSERT INTO audit_events (at, type, details)')).toBe('1');
    });
    const { rows, affected } = await db.sql<{ at: string }>('SELECT at FROM audit_events WHERE type = :type ORDER BY at', {
      type: 'prepared',
    });
    expect(affected).toBe(7);
    expect(rows.map((r) => Number(r.at))).toEqual(Array.from({ length: 7 }, (_, i) => 1_700_000_000_000 + i));
    expect((await db.sql('UPDATE audit_events SET reason = :reason WHERE type = :type', { reason: 'r', type: 'prepared' })).affected).toBe(
      7,
    );
  });

  it("binds only the names given, whichever of a text's names they are", async () => {
    const text = 'SELECT :a::text AS a, :b::text AS b';
    expect((await db.sql(text, { a: 'x', b: 'y' })).rows).toEqual([{ a: 'x', b: 'y' }]);
    expect((await db.sql(text, { b: 'y', a: 'x' })).rows).toEqual([{ a: 'x', b: 'y' }]);
    await expect(db.sql(text, { a: 'x' })).rejects.toThrow(QueryFailedError); // `:b` stays in the text: a syntax error
  });

  it('rolls back its statements with the transaction they run in, and commits them with it', async () => {
    await expect(
      db.transaction(async () => {
        await insertEvent('rolled back');
        throw new Error('undo');
      }),
    ).rejects.toThrow('undo');
    await db.transaction(() => insertEvent('committed'));
    const rows = await ds.query(`SELECT type FROM audit_events WHERE type IN ('rolled back', 'committed')`);
    expect(rows).toEqual([{ type: 'committed' }]);
  });

  it('reports a unique violation as TypeORM does, and the pooled connections keep working after it', async () => {
    const user = {
      id: '00000000-0000-4000-8000-0000000000aa',
      emailVerified: false,
      name: 'Bo',
      roles: [],
      providerRoles: [],
      disabled: false,
      createdAt: 1,
      updatedAt: 1,
    };
    await db.insertRow(User, user);
    const results = await Promise.all(Array.from({ length: 12 }, () => db.insertRow(User, user).catch((e: unknown) => e)));
    expect(results.every((e) => e instanceof QueryFailedError && isUniqueViolation(e))).toBe(true);
    expect(await Promise.all(Array.from({ length: 12 }, (_, i) => insertEvent('after violation', i)))).toHaveLength(12);
    expect(await db.findRow(User, { id: user.id })).toMatchObject({ name: 'Bo' });
  });
});

describe('numberedParameters (PostgreSQL)', () => {
  it('numbers each name once, binds every value and leaves casts and unknown names alone', () => {
    expect(numberedParameters('SELECT :a::text, :b, :a, :c FROM t WHERE x = :missing', { a: 1, b: 'two', c: true })).toEqual([
      'SELECT $1::text, $2, $1, $3 FROM t WHERE x = :missing',
      [1, 'two', true],
    ]);
  });
});
