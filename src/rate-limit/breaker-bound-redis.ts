import type { ChainableCommander } from 'ioredis';
import type { SharedRedis } from '../redis/shared-redis.js';

/**
 * The `storeClient` given to rate-limiter-flexible's RateLimiterRedis: the few ioredis calls it makes (its
 * lib/RateLimiterRedis.js, 11.x: `defineCommand` then `rlflxIncr` to count a hit, `multi().set().pttl().exec()` to
 * block a key, `multi().get().pttl().exec()` to read one, `del`), each sent through {@link SharedRedis.run} so that
 * the command timeout and the circuit breaker bound them as they bound every other use of Redis (issue 19): while the
 * breaker is open run() throws at once, not one command reaches Redis, and RateLimiterRedis turns to its
 * `insuranceLimiter` (this instance's memory). Handing the library the ioredis client itself would keep the timeout
 * but bypass the breaker, and SharedRedis keeps that client to itself.
 *
 * A library release that calls anything else on its client fails here with a TypeError, which RateLimiterRedis also
 * sends to the insurance limiter: limits would quietly become per instance. rate-limits.e2e.ts (two instances counting
 * one client through a real Redis) is what catches that.
 */
export class BreakerBoundRedis {
  private script = '';

  constructor(private readonly redis: SharedRedis) {}

  /** RateLimiterRedis registers its counting script once, in its constructor. */
  defineCommand(_name: string, definition: { lua: string }): void {
    this.script = definition.lua;
  }

  /**
   * `[key, points, seconds, limit, duration]`. Sent as EVAL, as the hand-written limiter did, rather than ioredis's
   * EVALSHA-then-EVAL: one round trip whatever the server's script cache holds.
   */
  rlflxIncr([key, ...args]: string[]): Promise<unknown> {
    return this.redis.run((r) => r.eval(this.script, 1, key, ...args));
  }

  multi(): QueuedMulti {
    return new QueuedMulti(this.redis);
  }

  del(key: string): Promise<number> {
    return this.redis.run((r) => r.del(key));
  }
}

/** A MULTI whose commands are only queued here, then sent together, through run(), by exec(). */
class QueuedMulti {
  private readonly queued: ((m: ChainableCommander) => ChainableCommander)[] = [];

  constructor(private readonly redis: SharedRedis) {}

  set(key: string, value: string | number, ex: 'EX', seconds: number): this {
    this.queued.push((m) => m.set(key, value, ex, seconds));
    return this;
  }

  get(key: string): this {
    this.queued.push((m) => m.get(key));
    return this;
  }

  pttl(key: string): this {
    this.queued.push((m) => m.pttl(key));
    return this;
  }

  incrby(key: string, by: number): this {
    this.queued.push((m) => m.incrby(key, by));
    return this;
  }

  exec(): Promise<[Error | null, unknown][] | null> {
    return this.redis.run((r) => this.queued.reduce((m, add) => add(m), r.multi()).exec());
  }
}
