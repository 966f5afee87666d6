import type { ValueTransformer } from 'typeorm';

/**
 * Times are epoch milliseconds in `bigint` columns on every database: comparisons in conditional updates
 * (`expires_at > :now`) then mean the same on SQLite and PostgreSQL, and node-pg's string bigints come back as numbers.
 */
export const epochMs: ValueTransformer = {
  to: (v: number | null | undefined) => v,
  from: (v: string | number | null) => (v === null || v === undefined ? v : Number(v)),
};

/** A JSON object column ('simple-json'): claims, details, public JWKs. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type JsonObject = Record<string, any>;
