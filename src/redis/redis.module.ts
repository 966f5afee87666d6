import { Global, Inject, Module, type OnApplicationShutdown } from '@nestjs/common';
import { Redis } from 'ioredis';
import type { ResolvedConfig } from '../config/app-secret.js';
import { APP_CONFIG } from '../config/config.module.js';
import { SharedRedis } from './shared-redis.js';

export const REDIS = Symbol('REDIS');
/**
 * Redis behind its timeout and circuit breaker ({@link SharedRedis}), or undefined when REDIS_URL is not set
 * (everything then works on one instance's memory). Nothing else holds the ioredis client.
 */
export const InjectRedis = () => Inject(REDIS);
export type RedisClient = SharedRedis | undefined;

class RedisCloser implements OnApplicationShutdown {
  constructor(@InjectRedis() private readonly redis: RedisClient) {}
  async onApplicationShutdown(): Promise<void> {
    await this.redis?.close();
  }
}

@Global()
@Module({
  providers: [
    {
      provide: REDIS,
      inject: [APP_CONFIG],
      useFactory: (config: ResolvedConfig): RedisClient => {
        if (!config.redisUrl) return undefined;
        const client = new Redis(config.redisUrl, {
          // A server that accepts and never answers (stopped, overloaded, a dead link) must not hold requests.
          commandTimeout: config.redisTimeoutMs,
          maxRetriesPerRequest: 1,
          connectTimeout: 2000,
          enableOfflineQueue: false,
          lazyConnect: false,
        });
        return new SharedRedis(client, config.redisRetryMs);
      },
    },
    RedisCloser,
  ],
  exports: [REDIS],
})
export class RedisModule {}
