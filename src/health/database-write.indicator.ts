import { randomUUID } from 'node:crypto';
import { Injectable, Logger } from '@nestjs/common';
import { HealthIndicatorService, type HealthIndicatorResult } from '@nestjs/terminus';
import { Clock } from '../common/clock.js';
import { HeartbeatsRepository } from './heartbeats.repository.js';

/** At most one heartbeat write per instance this often; readiness answers from the last result in between. */
export const WRITE_CHECK_INTERVAL_MS = 5_000;
/** A write that takes longer is reported as failing (as the read ping's own timeout); it may still finish. */
const WRITE_TIMEOUT_MS = 2_000;

type WriteResult = { ok: true } | { ok: false; code: string };

/**
 * Readiness proves the database takes writes, not only reads: a full disk or a file system that fails writes leaves
 * `SELECT 1` working while every sign-in and refresh fails (issue 19). Each instance upserts its own heartbeat row,
 * at most once per WRITE_CHECK_INTERVAL_MS whatever the probe rate, so a probe costs one small write every few seconds;
 * one write at a time, and probes arriving meanwhile wait for it (up to WRITE_TIMEOUT_MS).
 */
@Injectable()
export class DatabaseWriteIndicator {
  private readonly logger = new Logger(DatabaseWriteIndicator.name);
  /** This instance's row; a new one per start (rows of instances gone for a day are deleted). */
  private readonly instance = randomUUID();
  private last?: { at: number; result: WriteResult };
  private writing?: Promise<WriteResult>;

  constructor(
    private readonly heartbeats: HeartbeatsRepository,
    private readonly indicators: HealthIndicatorService,
    private readonly clock: Clock,
  ) {}

  async isHealthy(key: string): Promise<HealthIndicatorResult> {
    const session = this.indicators.check(key);
    const result = await this.check();
    return result.ok ? session.up() : session.down({ message: 'the database refuses writes', code: result.code });
  }

  private check(): Promise<WriteResult> {
    if (this.last && this.clock.now() - this.last.at < WRITE_CHECK_INTERVAL_MS) return Promise.resolve(this.last.result);
    this.writing ??= this.beat().finally(() => (this.writing = undefined));
    return withTimeout(this.writing, WRITE_TIMEOUT_MS, { ok: false, code: 'timeout' });
  }

  private async beat(): Promise<WriteResult> {
    const at = this.clock.now();
    const result: WriteResult = await this.heartbeats.beat(this.instance, at).then(
      () => ({ ok: true }),
      (e: unknown) => ({ ok: false, code: errorCode(e) }),
    );
    // Logged when it changes, not per probe.
    if (!result.ok && this.last?.result.ok !== false) this.logger.warn(`database writes fail (${result.code}): readiness is 503`);
    if (result.ok && this.last?.result.ok === false) this.logger.log('database writes work again: readiness is 200');
    this.last = { at, result };
    return result;
  }
}

/** The driver's code (SQLITE_FULL, SQLITE_IOERR_WRITE, 53100, …) behind TypeORM's wrapper: enough for an operator. */
function errorCode(e: unknown): string {
  const err = (e as { driverError?: unknown } | null)?.driverError ?? e;
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^[A-Z0-9_]{1,64}$/.test(code) ? code : 'write_failed';
}

function withTimeout<T>(work: Promise<T>, ms: number, fallback: T): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<T>((resolve) => {
    timer = setTimeout(() => resolve(fallback), ms);
    timer.unref();
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}
