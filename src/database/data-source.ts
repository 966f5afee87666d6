import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { DataSourceOptions } from 'typeorm';
import type { DatabaseConfig } from '../config/config.js';
import { InitialSchema1764100000000 } from './migrations/1764100000000-initial-schema.js';
import { Revocations1764200000000 } from './migrations/1764200000000-revocations.js';
import { Accounts1764300000000 } from './migrations/1764300000000-accounts.js';
import { ApiClients1764400000000 } from './migrations/1764400000000-api-clients.js';
import { SearchIndexes1764500000000 } from './migrations/1764500000000-search-indexes.js';
import { SubstringSearch1764600000000 } from './migrations/1764600000000-substring-search.js';
import { BrowserSessions1764650000000 } from './migrations/1764650000000-browser-sessions.js';
import { RefreshTokenSuccessor1764719100000 } from './migrations/1764719100000-refresh-token-successor.js';
import { HealthHeartbeats1764719300000 } from './migrations/1764719300000-health-heartbeats.js';
import { OpenIdProvider1764800000000 } from './migrations/1764800000000-openid-provider.js';
import { OidcConsents1764900000000 } from './migrations/1764900000000-oidc-consents.js';
import { BackchannelLogout1764900100000 } from './migrations/1764900100000-backchannel-logout.js';
import { GrantSessionsClient1764900200000 } from './migrations/1764900200000-grant-sessions-client.js';

export const MIGRATIONS = [
  InitialSchema1764100000000,
  Revocations1764200000000,
  Accounts1764300000000,
  ApiClients1764400000000,
  SearchIndexes1764500000000,
  SubstringSearch1764600000000,
  BrowserSessions1764650000000,
  RefreshTokenSuccessor1764719100000,
  HealthHeartbeats1764719300000,
  OpenIdProvider1764800000000,
  OidcConsents1764900000000,
  BackchannelLogout1764900100000,
  GrantSessionsClient1764900200000,
];

/**
 * The same options serve start-up (migrations run there) and `npm run migration:run`. No entities: each feature module
 * registers its own (`TypeOrmModule.forFeature`) and the app's data source loads them (`autoLoadEntities`, AppModule),
 * so this folder imports no feature. Migrations need none: they are written with TypeORM's schema API.
 */
export function dataSourceOptions(db: DatabaseConfig): DataSourceOptions {
  const common = { migrations: MIGRATIONS, migrationsRun: true, synchronize: false, logging: false } as const;
  if (db.type === 'postgres') {
    return { ...common, type: 'postgres', url: db.url, extra: { max: 10, connectionTimeoutMillis: 5000 } };
  }
  if (db.path !== ':memory:') mkdirSync(dirname(db.path), { recursive: true });
  return {
    ...common,
    type: 'better-sqlite3',
    database: db.path,
    // WAL lets readers run beside the writer; the busy timeout lets a second instance on the same file wait its turn.
    enableWAL: true,
    // TypeORM's statement cache is FIFO, not LRU: sized above the number of distinct statements the service runs, so
    // hot ones are never evicted and re-prepared.
    statementCacheSize: 1000,
    timeout: 5000,
    // In WAL mode, NORMAL makes a commit durable against a crash or kill of the process (the WAL is written before
    // COMMIT returns) and skips the fsync per transaction; only a power cut can lose the last commits.
    // https://www.sqlite.org/pragma.html#pragma_synchronous
    prepareDatabase: (db: { pragma(source: string): unknown }) => {
      db.pragma('synchronous = NORMAL');
    },
  };
}
