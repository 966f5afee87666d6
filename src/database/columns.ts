import type { ValueTransformer } from 'typeorm';

/**
 * Times are epoch milliseconds in `bigint` columns on every database: comparisons in conditional updates
 * (`expires_at > :now`) then mean the same on SQLite and PostgreSQL, and node-pg's string bigints come back as numbers.
 */
export const epochMs: ValueTransformer = {
  // Written as a decimal string: TypeORM inlines numbers into INSERT and UPDATE statements on SQLite, which made
  // every such statement text unique (no prepared-statement reuse, and a statement cache flooded with one-offs).
  // Bound as text, the column's INTEGER affinity (SQLite) or bigint type (PostgreSQL) stores the same number.
  to: (v: number | null | undefined) => (typeof v === 'number' ? String(v) : v),
  from: (v: string | number | null) => (v === null || v === undefined ? v : Number(v)),
};

/** A JSON object column ('simple-json'): claims, details, public JWKs. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type JsonObject = Record<string, any>;
