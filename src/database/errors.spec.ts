import Database from 'better-sqlite3';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { QueryFailedError } from 'typeorm';
import { isDatabaseUnavailable, isUniqueViolation } from './errors.js';

/** The error better-sqlite3 throws for `work`, or a failure when it throws none. */
function sqliteError(work: () => unknown): Error & { code: string } {
  try {
    work();
  } catch (e) {
    return e as Error & { code: string };
  }
  throw new Error('expected an SQLite error');
}

const wrapped = (e: Error) => new QueryFailedError('INSERT …', [], e);
const dir = () => mkdtempSync(join(tmpdir(), 'sls-errors-'));

/** Issue 19: storage faults are "temporarily unavailable" (503, Retry-After), never server_error. */
describe('isDatabaseUnavailable on SQLite errors', () => {
  it('a full database (SQLITE_FULL), as thrown and as TypeORM wraps it', () => {
    const db = new Database(join(dir(), 'full.db'));
    db.exec('CREATE TABLE t (v TEXT)');
    db.pragma(`max_page_count = ${db.pragma('page_count', { simple: true }) as number}`);
    const e = sqliteError(() => {
      for (;;) db.prepare('INSERT INTO t (v) VALUES (?)').run('x'.repeat(500));
    });
    db.close();
    expect(e.code).toBe('SQLITE_FULL');
    expect(isDatabaseUnavailable(e)).toBe(true);
    expect(isDatabaseUnavailable(wrapped(e))).toBe(true);
  });

  it('a database that refuses writes (SQLITE_READONLY) and a file that cannot be opened (SQLITE_CANTOPEN)', () => {
    const path = join(dir(), 'ro.db');
    new Database(path).exec('CREATE TABLE t (v TEXT)');
    const ro = new Database(path, { readonly: true });
    const readonly = sqliteError(() => ro.prepare("INSERT INTO t (v) VALUES ('x')").run());
    ro.close();
    expect(readonly.code).toBe('SQLITE_READONLY');
    expect(isDatabaseUnavailable(wrapped(readonly))).toBe(true);

    const cantOpen = sqliteError(() => new Database(join(dir(), 'missing.db'), { fileMustExist: true }));
    expect(cantOpen.code).toBe('SQLITE_CANTOPEN');
    expect(isDatabaseUnavailable(cantOpen)).toBe(true);
  });

  it('I/O errors and the other storage faults, by their extended codes', () => {
    for (const code of [
      'SQLITE_IOERR',
      'SQLITE_IOERR_WRITE',
      'SQLITE_IOERR_FSYNC',
      'SQLITE_IOERR_SHORT_READ',
      'SQLITE_READONLY_DBMOVED',
      'SQLITE_CANTOPEN_NOTEMPDIR',
      'SQLITE_BUSY',
      'SQLITE_BUSY_TIMEOUT',
    ]) {
      const e = new Database.SqliteError('storage fault', code);
      expect([code, isDatabaseUnavailable(wrapped(e))]).toEqual([code, true]);
    }
  });

  it('bad statements, constraint violations and corruption stay server errors', () => {
    const db = new Database(':memory:');
    db.exec('CREATE TABLE t (v TEXT PRIMARY KEY)');
    db.exec("INSERT INTO t VALUES ('x')");
    const unique = sqliteError(() => db.exec("INSERT INTO t VALUES ('x')"));
    const syntax = sqliteError(() => db.exec('SELEC 1'));
    db.close();
    expect(isUniqueViolation(wrapped(unique))).toBe(true);
    expect(isDatabaseUnavailable(wrapped(unique))).toBe(false);
    expect(isDatabaseUnavailable(wrapped(syntax))).toBe(false);
    for (const code of ['SQLITE_CORRUPT', 'SQLITE_CORRUPT_INDEX', 'SQLITE_NOTADB', 'SQLITE_MISMATCH', 'SQLITE_FULLNESS']) {
      expect([code, isDatabaseUnavailable(wrapped(new Database.SqliteError('x', code)))]).toEqual([code, false]);
    }
  });
});

describe('isDatabaseUnavailable on PostgreSQL errors', () => {
  const pgError = (code: string) => Object.assign(new Error('pg'), { code });

  it('a full disk (53100), an I/O error (58030) and a read-only server (25006) are unavailable; a bad query is not', () => {
    for (const code of ['53100', '58030', '25006', '57P01', '08006'])
      expect([code, isDatabaseUnavailable(wrapped(pgError(code)))]).toEqual([code, true]);
    for (const code of ['23505', '42601', '22P02']) expect([code, isDatabaseUnavailable(wrapped(pgError(code)))]).toEqual([code, false]);
  });

  it('too many connections, out of memory, a cancelled statement, a deadlock and a serialization failure are unavailable', () => {
    for (const code of ['53300', '53200', '57014', '40P01', '40001'])
      expect([code, isDatabaseUnavailable(wrapped(pgError(code))), isDatabaseUnavailable(pgError(code))]).toEqual([code, true, true]);
    // Their neighbours in the same classes are the query's own fault and stay server errors.
    for (const code of ['40002', '42P01', '22021']) expect([code, isDatabaseUnavailable(wrapped(pgError(code)))]).toEqual([code, false]);
  });
});
