import { Module, type DynamicModule } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AccountsModule } from './accounts/accounts.module.js';
import { AdminModule } from './admin/admin.module.js';
import { AuditModule } from './audit/audit.module.js';
import { AuthModule } from './auth/auth.module.js';
import { Clock, SystemClock } from './common/clock.js';
import { DomainErrorFilter } from './http/domain-error.filter.js';
import type { ResolvedConfig } from './config/app-secret.js';
import { ConfigModule } from './config/config.module.js';
import { dataSourceOptions } from './database/data-source.js';
import { Database } from './database/db.service.js';
import { HealthModule } from './health/health.module.js';
import { RateLimitModule } from './rate-limit/rate-limit.module.js';
import { RedisModule } from './redis/redis.module.js';
import { MeModule } from './me/me.module.js';
import { MetricsModule } from './metrics/metrics.module.js';
import { TokensModule } from './tokens/tokens.module.js';
import { WebModule } from './web/web.module.js';
import { LoggingModule } from './logging/logging.module.js';
import { OidcModule } from './oidc/oidc.module.js';
import type { Writable } from 'node:stream';

export interface AppOptions {
  /** Tests pass a clock they can move. */
  clock?: Clock;
  /** Where logs go (stdout by default); tests collect them. */
  logStream?: Writable;
  /** Overrides LOG_LEVEL (tests run silent). */
  logLevel?: string;
}

@Module({})
export class AppModule {
  static forRoot(config: ResolvedConfig, options: AppOptions = {}): DynamicModule {
    return {
      module: AppModule,
      global: true,
      imports: [
        ConfigModule.forRoot(config),
        LoggingModule.forRoot(options.logLevel ?? config.logLevel, options.logStream),
        // Each feature module registers its entities (TypeOrmModule.forFeature); the data source loads what they register.
        TypeOrmModule.forRoot({ ...dataSourceOptions(config.database), autoLoadEntities: true }),
        RedisModule,
        MetricsModule,
        RateLimitModule,
        AuditModule,
        TokensModule,
        AccountsModule,
        AuthModule,
        MeModule,
        AdminModule,
        WebModule,
        HealthModule,
        // Other apps sign in through us with OpenID Connect (issue 17); off unless OPENID_PROVIDER=true.
        ...(config.openidProvider ? [OidcModule] : []),
      ],
      providers: [
        { provide: Clock, useValue: options.clock ?? new SystemClock() },
        { provide: APP_FILTER, useClass: DomainErrorFilter },
        Database,
      ],
      exports: [Clock, Database],
    };
  }
}
