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
import { Public } from '../auth/decorators/public.decorator.js';
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

  /** Liveness: the process answers. */
  @Get()
  @HealthCheck()
  live() {
    return this.health.check([]);
  }

  /**
   * Readiness: the database answers and takes writes (a heartbeat row, written at most every few seconds), and Redis
   * answers when configured; 503 otherwise.
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
        return (await redis.ping().then(
          (pong) => pong === 'PONG',
          () => false,
        ))
          ? session.up()
          : session.down('no answer');
      });
    }
    return this.health.check(checks);
  }
}
