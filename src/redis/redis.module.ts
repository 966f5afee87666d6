import { Global, Inject, Logger, Module, type OnApplicationShutdown } from '@nestjs/common';
import { Redis } from 'ioredis';
import type { ResolvedConfig } from '../config/app-secret.js';
import { APP_CONFIG } from '../config/config.module.js';

export const REDIS = Symbol('REDIS');
/** The shared Redis client, or undefined when REDIS_URL is not set (everything then works on one instance's memory). */
export const InjectRedis = () => Inject(REDIS);
export type RedisClient = Redis | undefined;

class RedisCloser implements OnApplicationShutdown {
  constructor(@InjectRedis() private readonly redis: RedisClient) {}
  async onApplicationShutdown(): Promise<void> {
    await this.redis?.quit().catch(() => this.redis?.disconnect());
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
        const logger = new Logger('Redis');
        const client = new Redis(config.redisUrl, {
          maxRetriesPerRequest: 1,
          connectTimeout: 2000,
          enableOfflineQueue: false,
          lazyConnect: false,
        });
        let last = 0;
        client.on('error', (e: Error) => {
          if (Date.now() - last > 10_000) logger.warn(`Redis unavailable: ${e.message}`);
          last = Date.now();
        });
        return client;
      },
    },
    RedisCloser,
  ],
  exports: [REDIS],
})
export class RedisModule {}
