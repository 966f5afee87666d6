import { Controller, Get } from '@nestjs/common';
import {
  HealthCheck,
  HealthCheckService,
  HealthIndicatorService,
  TypeOrmHealthIndicator,
  type HealthIndicatorFunction,
} from '@nestjs/terminus';
import { InjectRedis, type RedisClient } from '../redis/redis.module.js';
import { ApiTags } from '@nestjs/swagger';
import { Public } from '../http/public.decorator.js';
import { DatabaseWriteIndicator } from './database-write.indicator.js';

@ApiTags('operations')
@Public()
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly db: TypeOrmHealthIndicator,
    private readonly indicators: HealthIndicatorService,
    private readonly writes: DatabaseWriteIndicator,
    @InjectRedis() private readonly redis: RedisClient,
  ) {}

  /** Liveness: the process answers (nothing else: restarting it would not bring a database back). */
  @Get()
  @HealthCheck()
  live() {
    return this.health.check([]);
  }

  /**
   * Readiness: whether this instance can serve, i.e. its database answers and takes writes (a heartbeat row, written
   * at most every few seconds); 503 otherwise. Redis, when configured, is reported but never makes it 503: without
   * Redis the service serves everything (rate limits are counted per instance), so an outage of a Redis every instance
   * shares must not take them all out of the load balancer. It is `degraded` (still 200) while Redis does not answer,
   * and is asked through its timeout and circuit breaker.
   */
  @Get('ready')
  @HealthCheck()
  ready() {
    const checks: HealthIndicatorFunction[] = [
      () => this.db.pingCheck('database', { timeout: 2000 }),
      () => this.writes.isHealthy('database_write'),
    ];
    const redis = this.redis;
    if (redis) {
      checks.push(async () => {
        const session = this.indicators.check('redis');
        try {
          await redis.run((r) => r.ping());
          return session.up();
        } catch (e) {
          return session.degraded((e as Error).message);
        }
      });
    }
    return this.health.check(checks);
  }
}
