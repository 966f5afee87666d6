import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { DataSource } from 'typeorm';
import { WRITE_CHECK_INTERVAL_MS } from '../../src/health/database-write.indicator.js';
import { TestBrowser } from '../support/browser.js';
import { ManualClock, startService } from '../support/service.js';
import { browserSignIn, getJson, signInAndGetTokens } from '../support/sign-in.js';
import { startWorld, type World } from '../support/world.js';

/** An answer with the headers the tests look at. */
async function call(url: string, init: { method?: string; token?: string; body?: unknown } = {}) {
  const res = await fetch(url, {
    method: init.method ?? (init.body ? 'POST' : 'GET'),
    headers: {
      ...(init.token ? { authorization: `Bearer ${init.token}` } : {}),
      ...(init.body ? { 'content-type': 'application/json' } : {}),
    },
    body: init.body ? JSON.stringify(init.body) : undefined,
  });
  const text = await res.text();
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  return { status: res.status, retryAfter: res.headers.get('retry-after'), body: (text ? JSON.parse(text) : undefined) as any };
}

const unavailable = { error: 'temporarily_unavailable', error_description: expect.any(String) };

/** Issue 19 item 3, on either database: readiness proves a write, and affords it only every few seconds. */
describe('readiness writes a heartbeat', () => {
  it('upserts this instance’s row at most once per interval, answering from the last result in between', async () => {
    const clock = new ManualClock();
    const service = await startService({}, { clock });
    const rows = async () =>
      (
        (await service.app.get(DataSource).query('SELECT instance, beat_at FROM health_heartbeats')) as {
          instance: string;
          beat_at: unknown;
        }[]
      ).map((r) => ({ instance: r.instance, beatAt: Number(r.beat_at) }));
    try {
      const ready = await getJson(`${service.url}/health/ready`);
      expect(ready.status).toBe(200);
      expect(ready.body.details).toMatchObject({ database: { status: 'up' }, database_write: { status: 'up' } });
      const [first, ...others] = await rows();
      expect(others).toEqual([]);
      expect(first.beatAt).toBe(clock.now());

      clock.advance(WRITE_CHECK_INTERVAL_MS - 1);
      for (let i = 0; i < 5; i++) expect((await getJson(`${service.url}/health/ready`)).status).toBe(200);
      expect(await rows()).toEqual([first]);

      clock.advance(1);
      expect((await getJson(`${service.url}/health/ready`)).status).toBe(200);
      expect(await rows()).toEqual([{ instance: first.instance, beatAt: clock.now() }]);
      expect(service.serverErrors).toEqual([]);
    } finally {
      await service.close();
    }
  });
});

/**
 * A tmpfs of a few megabytes for the SQLite file, filled up by the test: the real `database or disk is full`. Mounting
 * needs root (CI runs as root); elsewhere the suite is skipped with the reason. (`PRAGMA max_page_count` cannot stand in
 * for it: SQLite rewrites a row in place, or inserts into a page with room, without a new page, so the heartbeat and
 * most single-row writes would still succeed; on a full disk every commit must grow the WAL file.)
 */
function mountSmallFilesystem(): { dir: string } | { skip: string } {
  if (process.env.TEST_DB === 'postgres') return { skip: 'SQLite only (TEST_DB=postgres)' };
  const dir = mkdtempSync(join(tmpdir(), 'sls-disk-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=16m', 'tmpfs', dir], { stdio: 'pipe' });
    return { dir };
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    return { skip: `cannot mount a tmpfs here (${((e as { stderr?: Buffer }).stderr?.toString() || (e as Error).message).trim()})` };
  }
}

const fs = mountSmallFilesystem();
if ('skip' in fs) console.warn(`disk-full.e2e.ts: the full-disk tests are skipped: ${fs.skip}`);
const describeOnSmallFilesystem = 'dir' in fs ? describe : describe.skip;

describeOnSmallFilesystem('a full disk under SQLite (issue 19)', () => {
  const dir = 'dir' in fs ? fs.dir : '';
  const filler = join(dir, 'filler');
  const clock = new ManualClock();
  let world: World;
  let url: string;
  let adminToken: string;
  let refreshToken: string;
  const logs: { level: number; msg: string }[] = [];
  const logged = (text: string) => logs.filter((l) => l.msg?.includes(text));

  /** Writes until the file system has no byte left. */
  function fillTheDisk(): void {
    const fd = openSync(filler, 'w');
    try {
      for (const size of [1 << 20, 1 << 16, 1 << 12, 1]) {
        const chunk = Buffer.alloc(size, 1);
        try {
          for (;;) writeSync(fd, chunk);
        } catch (e) {
          if ((e as { code?: string }).code !== 'ENOSPC') throw e;
        }
      }
    } finally {
      closeSync(fd);
    }
  }

  const ready = () => call(`${url}/health/ready`);
  const refresh = (token: string) => call(`${url}/auth/token`, { body: { grant_type: 'refresh_token', refresh_token: token } });
  const createClient = (name: string) => call(`${url}/admin/clients`, { token: adminToken, body: { name } });

  beforeAll(async () => {
    const logStream = new PassThrough();
    logStream.on('data', (chunk: Buffer) =>
      logs.push(
        ...chunk
          .toString()
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l)),
      ),
    );
    world = await startWorld({ ADMIN_EMAILS: 'root@corp.test' }, { clock, databaseUrl: `sqlite:${join(dir, 'app.db')}`, logStream });
    url = world.service.url;
    world.corp.accounts.set('root', { email: 'root@corp.test', email_verified: true, name: 'Root' });
    adminToken = (await signInAndGetTokens(new TestBrowser(), url, 'corp', { login: 'root' })).tokens.access_token;
    refreshToken = (await signInAndGetTokens(new TestBrowser(), url, 'acme', { login: 'disk-user' })).tokens.refresh_token;
  });

  afterAll(async () => {
    await world?.close();
    rmSync(filler, { force: true });
    execFileSync('umount', [dir]);
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers 503 temporarily_unavailable with Retry-After, never 500; readiness 503 within its interval, liveness 200', async () => {
    expect((await ready()).status).toBe(200);
    // Empty the WAL into the database file first: every commit from now on must grow a file (otherwise one that fits
    // in WAL space left by an earlier checkpoint could still succeed, which a real full disk also allows).
    await world.service.app.get(DataSource).query('PRAGMA wal_checkpoint(TRUNCATE)');
    fillTheDisk();

    expect(await refresh(refreshToken)).toEqual({ status: 503, retryAfter: expect.stringMatching(/^\d+$/), body: unavailable });
    expect(await createClient('nightly-export')).toEqual({ status: 503, retryAfter: expect.stringMatching(/^\d+$/), body: unavailable });
    const { result } = await browserSignIn(new TestBrowser(), url, 'acme', { login: 'disk-user', returnTo: `${url}/done` });
    expect(result.origin + result.pathname).toBe(`${url}/done`);
    expect(result.searchParams.get('error')).toBe('temporarily_unavailable');
    expect(result.searchParams.get('code')).toBeNull();

    expect((await call(`${url}/health`)).status).toBe(200);
    clock.advance(WRITE_CHECK_INTERVAL_MS);
    expect(await ready()).toEqual({ status: 503, retryAfter: expect.stringMatching(/^\d+$/), body: unavailable });
    // The answer is the service's 503 like any other; the reason is in the log, once however often readiness is asked.
    clock.advance(WRITE_CHECK_INTERVAL_MS);
    expect((await ready()).status).toBe(503);
    expect(logged('database writes fail')).toEqual([expect.objectContaining({ level: 40, msg: expect.stringContaining('SQLITE_FULL') })]);
    expect((await call(`${url}/health`)).status).toBe(200);

    // Every failure was a 503 (the refresh, the admin write, readiness); not one 500.
    expect(world.service.serverErrors.length).toBeGreaterThan(0);
    expect(world.service.serverErrors.filter((e) => !e.startsWith('503 '))).toEqual([]);
  });

  it('works again without a restart once space returns, and the database is intact', async () => {
    world.service.serverErrors.length = 0;
    rmSync(filler);

    clock.advance(WRITE_CHECK_INTERVAL_MS);
    expect((await ready()).status).toBe(200);
    expect(logged('database writes work again')).toHaveLength(1);
    // The refresh that failed spent nothing: the same token rotates now.
    expect(await refresh(refreshToken)).toMatchObject({ status: 200, body: { refresh_token: expect.any(String) } });
    expect(await createClient('nightly-export')).toMatchObject({ status: 201, body: { name: 'nightly-export' } });
    const { tokens } = await signInAndGetTokens(new TestBrowser(), url, 'acme', { login: 'disk-user' });
    expect((await refresh(tokens.refresh_token)).status).toBe(200);

    const ds = world.service.app.get(DataSource);
    expect(await ds.query('PRAGMA integrity_check')).toEqual([{ integrity_check: 'ok' }]);
    expect(world.service.serverErrors).toEqual([]);
  });
});
