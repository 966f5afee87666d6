import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource, EntityManager } from 'typeorm';

export interface SqlResult<T> {
  rows: T[];
  affected: number;
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

  constructor(@InjectDataSource() readonly dataSource: DataSource) {
    const o = dataSource.options;
    if (o.type === 'better-sqlite3') this.queueKey = String(o.database);
  }

  /** A unit of work outside a transaction (one statement, or reads). Do not call from inside `transaction`. */
  run<T>(work: (m: EntityManager) => Promise<T>): Promise<T> {
    return this.serialise(() => work(this.dataSource.manager));
  }

  /** A transaction. Inside it, use only the manager it hands you. */
  transaction<T>(work: (m: EntityManager) => Promise<T>): Promise<T> {
    return this.serialise(() => this.dataSource.transaction(work));
  }

  /**
   * Plain SQL with `:name` parameters, for the few hot paths where the query builder's cost shows (refresh rotation
   * is mostly query building otherwise). Same text on SQLite and PostgreSQL; call inside `run` or `transaction`.
   */
  async sql<T = Record<string, unknown>>(m: EntityManager, text: string, params: Record<string, unknown>): Promise<SqlResult<T>> {
    const [query, values] = this.dataSource.driver.escapeQueryWithParameters(text, params);
    const runner = m.queryRunner ?? this.dataSource.createQueryRunner();
    try {
      const result = await runner.query(query, values, true);
      return { rows: (result.records ?? []) as T[], affected: result.affected ?? 0 };
    } finally {
      if (!m.queryRunner) await runner.release();
    }
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
