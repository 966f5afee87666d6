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
  // PostgreSQL's counterparts of a full disk, an I/O error and a read-only database (a standby after a failover).
  '53100',
  '58030',
  '25006',
  // Load, not the request: too many connections, out of memory, a statement cancelled (statement_timeout, an
  // operator's pg_cancel_backend), and a transaction chosen to lose a deadlock or a serialization conflict. Each
  // succeeds when retried, so the client is told to retry (503 + Retry-After) rather than that the service failed.
  '53300',
  '53200',
  '57014',
  '40P01',
  '40001',
]);
/**
 * SQLite's storage faults, with their extended codes (better-sqlite3 reports `SQLITE_IOERR_WRITE`, `SQLITE_BUSY_TIMEOUT`,
 * `SQLITE_READONLY_DBMOVED`, …): the lock is held elsewhere (BUSY), the disk is full (FULL), the file system failed a read
 * or write (IOERR), it refuses writes, e.g. remounted read-only after errors or the file lost its permissions (READONLY),
 * or a file SQLite needs (the WAL, a temporary file) cannot be opened, e.g. out of file descriptors (CANTOPEN). None of
 * them is the request's fault, and the service recovers once the storage does (issue 19); data faults (CORRUPT,
 * NOTADB) and bad statements are not among them and stay 500.
 * https://www.sqlite.org/rescode.html
 */
const SQLITE_UNAVAILABLE = /^SQLITE_(BUSY|FULL|IOERR|READONLY|CANTOPEN)(_[A-Z_]+)?$/;
const UNAVAILABLE_MESSAGES =
  /Connection terminated|timeout exceeded when trying to connect|connection error|Connection ended|database is locked/i;

/**
 * The database cannot be reached or cannot store anything right now (as opposed to a bad query): answered 503 with
 * Retry-After, `temporarily_unavailable` at the end of a sign-in, retried by clients.
 */
export function isDatabaseUnavailable(e: unknown): boolean {
  const err = e instanceof QueryFailedError ? (e.driverError as Error & { code?: string }) : (e as Error & { code?: string });
  if (!err || typeof err !== 'object') return false;
  const code = typeof err.code === 'string' ? err.code : undefined;
  return (
    (code !== undefined && (UNAVAILABLE_CODES.has(code) || SQLITE_UNAVAILABLE.test(code))) || UNAVAILABLE_MESSAGES.test(err.message ?? '')
  );
}
