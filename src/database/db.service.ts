import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { Database as SqliteConnection, Statement } from 'better-sqlite3';
import { AsyncLocalStorage } from 'node:async_hooks';
import { createHash } from 'node:crypto';
import type { Pool, PoolClient, QueryConfig, QueryResult } from 'pg';
import { QueryFailedError, type DataSource, type EntityManager, type EntityTarget, type ValueTransformer } from 'typeorm';
import type { ColumnMetadata } from 'typeorm/metadata/ColumnMetadata.js';

export interface SqlResult<T> {
  rows: T[];
  affected: number;
}

/** Hot-path statements are a handful of fixed texts; the cap only guards against a caller building texts. */
const STATEMENT_CACHE_SIZE = 100;

/** A `sql` text as PostgreSQL runs it: numbered, the names of its values in order, and its prepared statement's name. */
interface PostgresStatement {
  text: string;
  names: string[];
  /** Absent past STATEMENT_CACHE_SIZE texts: then it runs unnamed (parsed and planned each time, as TypeORM does). */
  name?: string;
}

/**
 * `:name` parameters as PostgreSQL's `$1 … $n` (a name used twice binds once); `::type` casts are left alone. `names`
 * receives the bound names in the order of their numbers.
 */
export function numberedParameters(text: string, params: Record<string, unknown>, names: string[] = []): [string, unknown[]] {
  const values: unknown[] = [];
  const index = new Map<string, number>();
  const query = text.replace(/(?<!:):([A-Za-z_][A-Za-z0-9_]*)/g, (whole, name: string) => {
    if (!Object.hasOwn(params, name)) return whole;
    let i = index.get(name);
    if (i === undefined) {
      index.set(name, (i = values.push(params[name])));
      names.push(name);
    }
    return `$${i}`;
  });
  return [query, values];
}

/** One queue per SQLite file in this process (several app instances in one process share the file's lock). */
const queues = new Map<string, Promise<unknown>>();

/** The unit of work an async call chain runs in: a transaction, or one repository call outside any. */
interface Unit {
  manager: EntityManager;
  /** Work to run once the transaction commits; absent for a unit outside a transaction. */
  afterCommit?: (() => void)[];
  /**
   * Cleared when the unit ends. Work started inside it that runs on afterwards (a promise nobody awaited, a timer)
   * still sees the unit in its async context; once closed, such work queues as a unit of its own instead of using a
   * connection that is no longer its unit's.
   */
  open: boolean;
}

/**
 * Every unit of database work goes through here; repositories use it, services only open transactions with it.
 *
 * The current unit travels in an AsyncLocalStorage, not as a parameter: whatever runs inside `transaction(...)`, in
 * any service or repository, joins that transaction. Nothing can forget to pass it, so nothing can write beside it
 * on PostgreSQL (a write that a rollback would not take back) or wait behind it on SQLite (a hang: the queue below
 * would hold the second unit until the first ends, and the first waits for the second).
 *
 * On PostgreSQL a unit is a plain pass-through (a pool, real transactions). On SQLite, TypeORM's better-sqlite3
 * driver has ONE connection for the whole app, so a statement from one request would run inside another request's
 * open transaction and vanish with its rollback, and a second transaction would silently nest as a savepoint. Units
 * are therefore run one at a time; better-sqlite3 is synchronous, so this costs little: SQLite has a single writer
 * anyway.
 *
 * Our own, in a few lines, rather than `@nestjs-cls/transactional` with its TypeORM adapter: that package is
 * CommonJS and does not load under Jest's ESM mode next to the ESM-only NestJS 12 ("Must use import to load ES
 * Module: @nestjs/common/index.js", tried with 3.3.0 and adapter 1.4.1); its adapter runs TypeORM's own
 * transaction (a deferred BEGIN, savepoints when nested), where SQLite needs the queue and BEGIN IMMEDIATE below;
 * its fallback outside a transaction is the bare manager, which on SQLite must queue too; and it has no
 * after-commit hooks, which the revocation lists need.
 */
@Injectable()
export class Database {
  private readonly queueKey?: string;
  private readonly statements = new Map<string, Statement>();
  private readonly postgresStatements = new Map<string, PostgresStatement>();
  /**
   * The current unit. While an AsyncLocalStorage is on, Node 20 runs a hook for every promise the process makes (0.1
   * to 0.3 µs each here; a trivial GET makes about 22, so under 1 % of its CPU). Turning it off while no unit runs
   * (`disable()`) was tried: that costs about 1.4 µs per unit, as much as it saves, so it stays on.
   */
  private readonly units = new AsyncLocalStorage<Unit>();

  constructor(@InjectDataSource() readonly dataSource: DataSource) {
    const o = dataSource.options;
    if (o.type === 'better-sqlite3') this.queueKey = String(o.database);
  }

  /** Whether this is PostgreSQL (for the few statements written for one database only). */
  get postgres(): boolean {
    return this.dataSource.options.type === 'postgres';
  }

  /** better-sqlite3's connection: the one TypeORM uses too, so statements join its open transaction. */
  private get sqlite(): SqliteConnection | undefined {
    return this.queueKey === undefined
      ? undefined
      : (this.dataSource.driver as unknown as { databaseConnection: SqliteConnection }).databaseConnection;
  }

  /** The unit this async call chain is in, if it is still running. */
  private current(): Unit | undefined {
    const unit = this.units.getStore();
    return unit?.open ? unit : undefined;
  }

  /**
   * For repositories: runs `work` with the manager of the current unit (joining its transaction), or else as a unit
   * of its own (queued on SQLite). Several statements that must see one state belong in one `run` or a transaction.
   */
  run<T>(work: (manager: EntityManager) => Promise<T>): Promise<T> {
    const unit = this.current();
    if (unit) return work(unit.manager);
    // PostgreSQL: the pool's manager, nothing to hold (each statement takes a pooled connection).
    if (this.queueKey === undefined) return work(this.dataSource.manager);
    return this.serialise(() => this.enter({ manager: this.dataSource.manager, open: true }, work));
  }

  /**
   * A transaction around `work`: every repository call inside it, however deep, is part of it. Called inside another
   * transaction it joins that one (one commit, one rollback), so a service method can make itself atomic whether or
   * not its caller already is.
   */
  transaction<T>(work: () => Promise<T>): Promise<T> {
    const unit = this.current();
    if (unit?.afterCommit) return work();
    const afterCommit: (() => void)[] = [];
    // Inside a unit outside a transaction (a repository's `run`), that unit already holds the SQLite queue.
    return this.runTransaction(afterCommit, work, unit !== undefined).then((result) => {
      for (const hook of afterCommit) hook();
      return result;
    });
  }

  /**
   * Runs `hook` once the current transaction commits, or at once outside a transaction: for in-memory state
   * (revocations) that must never get ahead of what the database keeps. A rollback drops it.
   */
  afterCommit(hook: () => void): void {
    const unit = this.current();
    if (unit?.afterCommit) unit.afterCommit.push(hook);
    else hook();
  }

  private runTransaction<T>(afterCommit: (() => void)[], work: () => Promise<T>, queued: boolean): Promise<T> {
    const sqlite = this.sqlite;
    if (!sqlite) return this.dataSource.transaction((manager) => this.enter({ manager, afterCommit, open: true }, work));
    // On SQLite the queue already gives this unit the connection to itself, so a plain BEGIN IMMEDIATE … COMMIT on it
    // is the whole transaction (TypeORM's own adds savepoint bookkeeping and events we do not use). IMMEDIATE takes
    // the write lock up front, so two processes on one file wait for each other instead of failing to upgrade.
    const transaction = async () => {
      this.statement(sqlite, 'BEGIN IMMEDIATE').run();
      try {
        const result = await this.enter({ manager: this.dataSource.manager, afterCommit, open: true }, work);
        this.statement(sqlite, 'COMMIT').run();
        return result;
      } catch (e) {
        if (sqlite.inTransaction) this.statement(sqlite, 'ROLLBACK').run();
        throw e;
      }
    };
    return queued ? transaction() : this.serialise(transaction);
  }

  /** Runs `work` as `unit`, and closes the unit when it ends. */
  private async enter<T>(unit: Unit, work: (manager: EntityManager) => Promise<T>): Promise<T> {
    try {
      return await this.units.run(unit, work, unit.manager);
    } finally {
      unit.open = false;
    }
  }

  /**
   * Plain SQL with `:name` parameters, for the few hot paths where TypeORM's own cost shows (refresh rotation spent
   * two thirds of its CPU in query building and result mapping). Same text on SQLite and PostgreSQL; joins the
   * current unit like `run`. On SQLite it runs as a cached prepared statement on the shared connection, which is safe
   * because units of work never overlap there.
   */
  async sql<T = Record<string, unknown>>(text: string, params: Record<string, unknown>): Promise<SqlResult<T>> {
    const sqlite = this.sqlite;
    if (!sqlite) return this.postgresStatement<T>(this.current()?.manager ?? this.dataSource.manager, text, params);
    if (this.current()) return this.sqliteStatement<T>(sqlite, text, params);
    return this.serialise(async () => this.sqliteStatement<T>(sqlite, text, params));
  }

  private sqliteStatement<T>(sqlite: SqliteConnection, text: string, params: Record<string, unknown>): SqlResult<T> {
    // better-sqlite3 binds `:name` itself. (TypeORM's escapeQueryWithParameters would inline numbers into the text,
    // so every statement carrying a time would be a new one to prepare and cache.)
    const bound: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(params)) bound[k] = typeof v === 'boolean' ? Number(v) : v;
    try {
      const stmt = this.statement(sqlite, text);
      if (stmt.reader) {
        // A SELECT, or a change with RETURNING: its rows are the rows it changed.
        const rows = stmt.all(bound) as T[];
        return { rows, affected: rows.length };
      }
      return { rows: [], affected: stmt.run(bound).changes };
    } catch (e) {
      // As TypeORM reports it (and as the PostgreSQL path below does), so isUniqueViolation & co. see one shape.
      throw new QueryFailedError(text, Object.values(bound), e as Error);
    }
  }

  /**
   * On PostgreSQL each `sql` text is a prepared statement (pg's named statements, one per text and pooled connection):
   * after its first run on a connection, a run sends Bind/Execute with the values only, and the server skips parsing
   * and, once it settles on a generic plan, planning. The rotation's statement spent about 0.3 ms of the server's CPU
   * in planning alone, as much as in its execution (EXPLAIN ANALYZE, 2026-12-02). It goes to pg directly, not
   * through TypeORM's query runner (a runner object, its event broadcast and logger calls per statement): the rows
   * and the affected count are the same, and errors are wrapped as TypeORM wraps them.
   */
  private async postgresStatement<T>(manager: EntityManager, text: string, params: Record<string, unknown>): Promise<SqlResult<T>> {
    const statement = this.postgresStatementOf(text, params);
    const config: QueryConfig = { name: statement.name, text: statement.text, values: statement.names.map((n) => params[n]) };
    let result: QueryResult;
    try {
      const runner = manager.queryRunner;
      // Inside a transaction: its connection (TypeORM's runner holds it), so the statement is part of it.
      if (runner)
        result = await (
          (runner as { databaseConnection?: PoolClient }).databaseConnection ?? ((await runner.connect()) as PoolClient)
        ).query(config);
      else result = await this.pooled((client) => client.query(config));
    } catch (e) {
      throw new QueryFailedError(statement.text, config.values, e as Error);
    }
    return { rows: result.rows as T[], affected: result.rowCount ?? 0 };
  }

  private postgresStatementOf(text: string, params: Record<string, unknown>): PostgresStatement {
    // Which names are bound depends on the parameters given (numberedParameters leaves unknown ones alone).
    const key = `${text}\0${Object.keys(params).join(',')}`;
    let statement = this.postgresStatements.get(key);
    if (!statement) {
      const names: string[] = [];
      const [numbered] = numberedParameters(text, params, names);
      statement = { text: numbered, names };
      if (this.postgresStatements.size >= STATEMENT_CACHE_SIZE) return statement;
      // Named after the text, not a counter: several Database instances on one data source (tests) then agree on names.
      statement.name = `sls_${createHash('sha256').update(key).digest('hex').slice(0, 32)}`;
      this.postgresStatements.set(key, statement);
    }
    return statement;
  }

  /** A pooled connection for one statement, as TypeORM's runner takes one: an error it emits meanwhile retires it. */
  private async pooled<T>(work: (client: PoolClient) => Promise<T>): Promise<T> {
    const client = await (this.dataSource.driver as unknown as { master: Pool }).master.connect();
    let broken: Error | undefined;
    const onError = (e: Error) => (broken = e);
    client.on('error', onError);
    try {
      return await work(client);
    } finally {
      client.removeListener('error', onError);
      client.release(broken);
    }
  }

  /**
   * Entity rows by plain SQL, for the sign-in and token paths: columns, JSON, booleans and transformers come from the
   * entity's TypeORM metadata, so the entity stays the one description of a table, while the statement is a fixed
   * text run by `sql` (TypeORM's query builder cost a fifth of a sign-in's CPU). Conditions are equalities.
   */
  async insertRow<T>(entity: EntityTarget<T>, row: Partial<T>): Promise<void> {
    const meta = this.dataSource.getMetadata(entity);
    const cols = meta.columns.filter((c) => (row as Record<string, unknown>)[c.propertyName] !== undefined);
    const params = Object.fromEntries(cols.map((c) => [c.propertyName, toColumn(c, (row as Record<string, unknown>)[c.propertyName])]));
    await this.sql(
      `INSERT INTO ${meta.tableName} (${cols.map((c) => `"${c.databaseName}"`).join(', ')}) VALUES (${cols.map((c) => `:${c.propertyName}`).join(', ')})`,
      params,
    );
  }

  async findRow<T>(entity: EntityTarget<T>, where: Partial<T>): Promise<T | undefined> {
    const meta = this.dataSource.getMetadata(entity);
    const { clause, params } = conditions(meta.columns, where as Record<string, unknown>);
    const { rows } = await this.sql(`SELECT * FROM ${meta.tableName} WHERE ${clause}`, params);
    if (!rows[0]) return undefined;
    const row = rows[0];
    return Object.fromEntries(meta.columns.map((c) => [c.propertyName, fromColumn(c, row[c.databaseName])])) as T;
  }

  /** Returns how many rows changed. */
  async updateRows<T>(entity: EntityTarget<T>, where: Partial<T>, set: Partial<T>): Promise<number> {
    const meta = this.dataSource.getMetadata(entity);
    const { clause, params } = conditions(meta.columns, where as Record<string, unknown>);
    const cols = meta.columns.filter((c) => (set as Record<string, unknown>)[c.propertyName] !== undefined);
    if (!cols.length) throw new Error('nothing to update');
    for (const c of cols) params[`s_${c.propertyName}`] = toColumn(c, (set as Record<string, unknown>)[c.propertyName]);
    const assignments = cols.map((c) => `"${c.databaseName}" = :s_${c.propertyName}`).join(', ');
    return (await this.sql(`UPDATE ${meta.tableName} SET ${assignments} WHERE ${clause}`, params)).affected;
  }

  /** A cached prepared statement on the shared SQLite connection. */
  private statement(sqlite: SqliteConnection, text: string): Statement {
    let stmt = this.statements.get(text);
    if (!stmt) {
      if (this.statements.size >= STATEMENT_CACHE_SIZE) this.statements.clear();
      this.statements.set(text, (stmt = sqlite.prepare(text)));
    }
    return stmt;
  }

  private serialise<T>(work: () => Promise<T>): Promise<T> {
    if (this.queueKey === undefined) return work();
    const next = (queues.get(this.queueKey) ?? Promise.resolve()).then(work);
    queues.set(
      this.queueKey,
      next.catch(() => undefined),
    );
    return next;
  }
}

function toColumn(c: ColumnMetadata, value: unknown): unknown {
  if (value === null) return null;
  const v = c.transformer ? (c.transformer as ValueTransformer).to(value) : value;
  return c.type === 'simple-json' ? JSON.stringify(v) : v;
}

function fromColumn(c: ColumnMetadata, value: unknown): unknown {
  if (value === null || value === undefined) return null;
  let v = value;
  if (c.type === 'simple-json') v = typeof v === 'string' ? JSON.parse(v) : v;
  else if (c.type === 'boolean') v = Boolean(v);
  else if (c.type === 'bigint' && !c.transformer) v = String(v);
  return c.transformer ? (c.transformer as ValueTransformer).from(v) : v;
}

/** `"a" = :w_a AND "b" IS NULL …` for the given properties (undefined ones are left out, as TypeORM's findOneBy does). */
function conditions(columns: ColumnMetadata[], where: Record<string, unknown>): { clause: string; params: Record<string, unknown> } {
  const params: Record<string, unknown> = {};
  const parts: string[] = [];
  for (const c of columns) {
    const value = where[c.propertyName];
    if (value === undefined) continue;
    if (value === null) parts.push(`"${c.databaseName}" IS NULL`);
    else {
      parts.push(`"${c.databaseName}" = :w_${c.propertyName}`);
      params[`w_${c.propertyName}`] = toColumn(c, value);
    }
  }
  if (!parts.length) throw new Error('refusing a statement without conditions');
  return { clause: parts.join(' AND '), params };
}
