import { Logger } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { LogThrottle } from '../logging/log-throttle.js';

/** Redis did not answer in time, failed, or is not being asked for now (see {@link SharedRedis}). */
export class RedisUnavailable extends Error {
  override name = 'RedisUnavailable';
}

/**
 * The one way the service uses Redis: nothing depends on it (it only shares rate-limit counters between instances),
 * so every caller must go on without it, quickly. Each command has a short timeout (ioredis `commandTimeout`,
 * REDIS_TIMEOUT_MS); after a timeout or any other failure a circuit breaker opens and, for REDIS_RETRY_MS, calls fail
 * at once with {@link RedisUnavailable} instead of each waiting its timeout on a server that is not answering; then
 * one call at a time is let through to ask again (half-open), and its answer closes the breaker.
 *
 * Why not a library (opossum, cockatiel): this is one state (`openUntil`) and one flag; a dependency would bring
 * its own timers, events and retry policies for what ioredis's timeout and these few lines already do.
 */
export class SharedRedis {
  private readonly logger = new Logger('Redis');
  /** Throttled: the first failure of an outage is logged, then a count every interval (issue 19). */
  private readonly faults = new LogThrottle((message) => this.logger.warn(message));
  /** 0 while closed (Redis is asked); otherwise when it may be asked again. */
  private openUntil = 0;
  private probing = false;
  private lastError = '';

  constructor(
    private readonly client: Redis,
    private readonly retryMs: number,
  ) {
    client.on('error', (e: Error) =>
      this.faults.note('connection', `Redis connection failed: ${e.message}; going on without it until ioredis reconnects`),
    );
  }

  /** Runs one Redis call, or throws {@link RedisUnavailable} (at once while the breaker is open). */
  async run<T>(call: (redis: Redis) => Promise<T>): Promise<T> {
    if (this.client.status !== 'ready') {
      // Not connected (starting, or ioredis reconnecting after a refused or dropped connection): ioredis would refuse
      // the command at once anyway, and reconnects by itself; nothing to wait for, so the breaker stays as it is.
      // Connection failures are logged by the 'error' listener.
      throw new RedisUnavailable(`not connected (${this.client.status})`);
    }
    let probe = false;
    if (this.openUntil !== 0) {
      if (Date.now() < this.openUntil || this.probing) {
        this.faults.note('calls', this.faultMessage());
        throw new RedisUnavailable(this.unavailableReason());
      }
      probe = this.probing = true;
    }
    try {
      const value = await call(this.client);
      if (this.openUntil !== 0) this.logger.log('Redis answers again');
      this.openUntil = 0;
      return value;
    } catch (e) {
      this.lastError = (e as Error).message;
      this.openUntil = Date.now() + this.retryMs;
      this.faults.note('calls', this.faultMessage());
      throw new RedisUnavailable(this.unavailableReason(), { cause: e });
    } finally {
      if (probe) this.probing = false;
    }
  }

  private unavailableReason(): string {
    return `not answering (${this.lastError}); asked again at most every ${this.retryMs / 1000} s`;
  }

  private faultMessage(): string {
    return `Redis not answering (${this.lastError}); going on without it, asking again every ${this.retryMs / 1000} s`;
  }

  async close(): Promise<void> {
    this.faults.close();
    await this.client.quit().catch(() => this.client.disconnect());
  }
}
