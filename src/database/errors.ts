import { QueryFailedError } from 'typeorm';

/** A unique or primary-key violation, on SQLite or PostgreSQL: the loser of a race on a unique row. */
export function isUniqueViolation(e: unknown): boolean {
  if (!(e instanceof QueryFailedError)) return false;
  const code = (e.driverError as { code?: string } | undefined)?.code;
  return code === '23505' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === 'SQLITE_CONSTRAINT_UNIQUE';
}

const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  '57P01',
  '57P02',
  '57P03',
  '08000',
  '08001',
  '08003',
  '08006',
  'SQLITE_BUSY',
]);
const UNAVAILABLE_MESSAGES =
  /Connection terminated|timeout exceeded when trying to connect|connection error|Connection ended|database is locked/i;

/** The database cannot be reached right now (as opposed to a bad query): answered 503, retried by clients. */
export function isDatabaseUnavailable(e: unknown): boolean {
  const err = e instanceof QueryFailedError ? (e.driverError as Error & { code?: string }) : (e as Error & { code?: string });
  if (!err || typeof err !== 'object') return false;
  return (err.code !== undefined && UNAVAILABLE_CODES.has(err.code)) || UNAVAILABLE_MESSAGES.test(err.message ?? '');
}
