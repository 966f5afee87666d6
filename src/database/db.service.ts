import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { Database, Statement } from 'better-sqlite3';
import type { DataSource, EntityManager } from 'typeorm';

export interface SqlResult<T> {
  rows: T[];
  affected: number;
}

/** Hot-path statements are a handful of fixed texts; the cap only guards against a caller building texts. */
const STATEMENT_CACHE_SIZE = 100;

/** `:name` parameters as PostgreSQL's `$1 … $n` (a name used twice binds once); `::type` casts are left alone. */
export function numberedParameters(text: string, params: Record<string, unknown>): [string, unknown[]] {
  const values: unknown[] = [];
  const index = new Map<string, number>();
  const query = text.replace(/(?<!:):([A-Za-z_][A-Za-z0-9_]*)/g, (whole, name: string) => {
    if (!Object.hasOwn(params, name)) return whole;
    let i = index.get(name);
    if (i === undefined) index.set(name, (i = values.push(params[name])));
    return `$${i}`;
  });
  return [query, values];
}

/** One queue per SQLite file in this process (several app instances in one process share the file's lock). */
const queues = new Map<string, Promise<unknown>>();

/**
 * Every unit of database work goes through here. On PostgreSQL it is a plain pass-through (a pool, real
 * transactions). On SQLite, TypeORM's better-sqlite3 driver has ONE connection for the whole app, so a statement
 * from one request would run inside another request's open transaction and vanish with its rollback, and a second
 * transaction would silently nest as a savepoint. Units are therefore run one at a time; better-sqlite3 is
 * synchronous, so this costs little: SQLite has a single writer anyway.
 */
@Injectable()
export class Db {
  private readonly queueKey?: string;
  private readonly statements = new Map<string, Statement>();
  /** Work to do once the transaction that owns this manager has committed (dropped if it rolls back). */
  private readonly commitHooks = new Map<EntityManager, (() => void)[]>();

  constructor(@InjectDataSource() readonly dataSource: DataSource) {
    const o = dataSource.options;
    if (o.type === 'better-sqlite3') this.queueKey = String(o.database);
  }

  /** better-sqlite3's connection: the one TypeORM uses too, so statements join its open transaction. */
  private get sqlite(): Database | undefined {
    return this.queueKey === undefined
      ? undefined
      : (this.dataSource.driver as unknown as { databaseConnection: Database }).databaseConnection;
  }

  /** A unit of work outside a transaction (one statement, or reads). Do not call from inside `transaction`. */
  run<T>(work: (m: EntityManager) => Promise<T>): Promise<T> {
    return this.serialise(() => work(this.dataSource.manager));
  }

  /**
   * Runs `hook` when the transaction of `m` commits, or at once when `m` is not in a transaction: for in-memory state
   * (revocations) that must never get ahead of what the database keeps.
   */
  afterCommit(m: EntityManager, hook: () => void): void {
    const hooks = this.commitHooks.get(m);
    if (hooks) hooks.push(hook);
    else hook();
  }

  /** A transaction. Inside it, use only the manager it hands you. */
  async transaction<T>(work: (m: EntityManager) => Promise<T>): Promise<T> {
    const hooks: (() => void)[] = [];
    const tracked = async (m: EntityManager) => {
      this.commitHooks.set(m, hooks);
      try {
        return await work(m);
      } finally {
        this.commitHooks.delete(m);
      }
    };
    const result = await this.runTransaction(tracked);
    for (const hook of hooks) hook();
    return result;
  }

  private runTransaction<T>(work: (m: EntityManager) => Promise<T>): Promise<T> {
    const sqlite = this.sqlite;
    if (!sqlite) return this.dataSource.transaction(work);
    // On SQLite the queue already gives this unit the connection to itself, so a plain BEGIN IMMEDIATE … COMMIT on it
    // is the whole transaction (TypeORM's own adds savepoint bookkeeping and events we do not use). IMMEDIATE takes
    // the write lock up front, so two processes on one file wait for each other instead of failing to upgrade.
    return this.serialise(async () => {
      this.statement(sqlite, 'BEGIN IMMEDIATE').run();
      try {
        const result = await work(this.dataSource.manager);
        this.statement(sqlite, 'COMMIT').run();
        return result;
      } catch (e) {
        if (sqlite.inTransaction) this.statement(sqlite, 'ROLLBACK').run();
        throw e;
      }
    });
  }

  /**
   * Plain SQL with `:name` parameters, for the few hot paths where TypeORM's own cost shows (refresh rotation spent
   * two thirds of its CPU in query building and result mapping). Same text on SQLite and PostgreSQL; call inside
   * `run` or `transaction`. On SQLite it runs as a cached prepared statement on the shared connection, which is safe
   * because units of work never overlap there.
   */
  async sql<T = Record<string, unknown>>(m: EntityManager, text: string, params: Record<string, unknown>): Promise<SqlResult<T>> {
    const sqlite = this.sqlite;
    if (sqlite) {
      // better-sqlite3 binds `:name` itself. (TypeORM's escapeQueryWithParameters would inline numbers into the text,
      // so every statement carrying a time would be a new one to prepare and cache.)
      const stmt = this.statement(sqlite, text);
      const bound: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(params)) bound[k] = typeof v === 'boolean' ? Number(v) : v;
      if (stmt.reader) return { rows: stmt.all(bound) as T[], affected: 0 };
      return { rows: [], affected: stmt.run(bound).changes };
    }
    const [query, values] = numberedParameters(text, params);
    const runner = m.queryRunner ?? this.dataSource.createQueryRunner();
    try {
      const result = await runner.query(query, values, true);
      return { rows: (result.records ?? []) as T[], affected: result.affected ?? 0 };
    } finally {
      if (!m.queryRunner) await runner.release();
    }
  }

  /** A cached prepared statement on the shared SQLite connection. */
  private statement(sqlite: Database, text: string): Statement {
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
