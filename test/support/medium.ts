import { Global, Module, type DynamicModule, type Type } from '@nestjs/common';
import { Test, type TestingModule } from '@nestjs/testing';
import { TypeOrmModule } from '@nestjs/typeorm';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Identity } from '../../src/accounts/identity.entity.js';
import { User } from '../../src/accounts/user.entity.js';
import { AuditEvent } from '../../src/audit/audit-event.entity.js';
import { Clock } from '../../src/common/clock.js';
import { DomainError } from '../../src/common/domain-error.js';
import type { ResolvedConfig } from '../../src/config/app-secret.js';
import { loadConfig } from '../../src/config/config.js';
import { ConfigModule } from '../../src/config/config.module.js';
import { dataSourceOptions } from '../../src/database/data-source.js';
import { Database } from '../../src/database/db.service.js';
import { LoggingModule } from '../../src/logging/logging.module.js';
import { MetricsModule } from '../../src/metrics/metrics.module.js';
import { AccessTokensService, type TokenSubject } from '../../src/tokens/access-tokens.service.js';
import { RevocationsService } from '../../src/tokens/revocations.service.js';
import { ManualClock } from './clock.js';
import { createTestDatabase, postgresAvailable } from './postgres.js';

/**
 * The middle test tier (house style, habit 7): a feature's services built by Nest from their real module, on a real
 * database, without HTTP. Only the app's root wiring is replaced: this file gives the feature modules what
 * AppModule.forRoot gives them (configuration, the TypeORM data source with its migrations, logging, metrics, and
 * the global Clock and Database), with a clock the test moves. Keep it in step with src/app.module.ts.
 */

/** Which database the medium specs run on: SQLite, or PostgreSQL under TEST_DB=postgres (`npm run test:postgres`). */
export const TEST_DB: 'sqlite' | 'postgres' = process.env.TEST_DB === 'postgres' ? 'postgres' : 'sqlite';

/**
 * `describe`, or `describe.skip` when TEST_DB=postgres and no PostgreSQL answers: postgresAvailable says so in the
 * output, and fails the run instead under REQUIRE_SERVICES=1, as the other PostgreSQL suites do.
 */
export async function describeOnTestDatabase(): Promise<jest.Describe> {
  if (TEST_DB === 'sqlite') return describe;
  return (await postgresAvailable()) ? describe : describe.skip;
}

const MEDIUM_APP_SECRET = 'medium-spec-app-secret-0123456789abcdefghijklmnop';

@Global()
@Module({})
class MediumRootModule {
  static forRoot(clock: Clock): DynamicModule {
    return { module: MediumRootModule, providers: [{ provide: Clock, useValue: clock }, Database], exports: [Clock, Database] };
  }
}

export interface Medium {
  module: TestingModule;
  config: ResolvedConfig;
  clock: ManualClock;
  database: Database;
  /** A provider of the module under test or of what it imports (so a Medium is a context for the factories too). */
  get: TestingModule['get'];
  /** Closes the module (lifecycle hooks, the data source) and removes the database. */
  close(): Promise<void>;
}

/**
 * Builds `features` (e.g. AccountsModule) with Test.createTestingModule on a fresh database: a SQLite file in a
 * temporary folder, or a PostgreSQL database of its own under TEST_DB=postgres. `env` is the service's environment
 * (loadConfig validates it as at start-up); the clock starts at the real time and moves only when the test says.
 */
export async function startMedium(features: (Type | DynamicModule)[], opts: { env?: Record<string, string> } = {}): Promise<Medium> {
  const pg = TEST_DB === 'postgres' ? await createTestDatabase() : undefined;
  const dir = pg ? undefined : mkdtempSync(join(tmpdir(), 'sls-medium-'));
  const removeDatabase = async () => {
    await pg?.drop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  };
  const config = loadConfig({
    DATABASE_URL: pg ? pg.url : `sqlite:${join(dir!, 'app.db')}`,
    APP_SECRET: MEDIUM_APP_SECRET,
    PUBLIC_URL: 'http://127.0.0.1:3000',
    DEMO_IDP: 'false',
    // Each module makes its signing key at start: an Ed25519 key takes a millisecond, an RSA one up to two seconds
    // here. Nothing in this tier depends on the algorithm (the e2e suites cover each).
    JWT_ALG: 'EdDSA',
    ...opts.env,
  }) as ResolvedConfig;
  const clock = new ManualClock();
  let module: TestingModule | undefined;
  try {
    module = await Test.createTestingModule({
      imports: [
        ConfigModule.forRoot(config),
        LoggingModule.forRoot('silent'),
        TypeOrmModule.forRoot({ ...dataSourceOptions(config.database), autoLoadEntities: true }),
        // What the factories write and auditOf reads, whichever feature is under test (a sessions spec has no accounts).
        TypeOrmModule.forFeature([User, Identity, AuditEvent]),
        MetricsModule,
        MediumRootModule.forRoot(clock),
        ...features,
      ],
    }).compile();
    // Runs onModuleInit and onApplicationBootstrap (signing keys, the revocation feed), as the app's start does.
    await module.init();
  } catch (e) {
    await module?.close();
    await removeDatabase();
    throw e;
  }
  const built = module;
  return {
    module: built,
    config,
    clock,
    database: built.get(Database),
    get: built.get.bind(built),
    close: async () => {
      await built.close();
      await removeDatabase();
    },
  };
}

/** An access token as the token endpoint issues one (for a person: their session; for an API client: its roles). */
export async function issueAccessToken(medium: Medium, subject: TokenSubject): Promise<string> {
  return (await medium.get(AccessTokensService).issue(subject)).token;
}

/**
 * Whether the bearer guard (JwtAuthGuard) would let this token through: it verifies the token, then asks the
 * revocation lists about its session and its subject. Those are the two calls made here.
 */
export function accepted(medium: Medium, token: string): boolean {
  const claims = medium.get(AccessTokensService).verify(token);
  return !medium.get(RevocationsService).isRevoked(claims.sid, claims.sub, claims.iat);
}

/** The audit rows that name this user (as `userId`), oldest first, in the fields a test compares. */
export async function auditOf(medium: Medium, userId: string) {
  const rows = await medium.database.run((manager) => manager.find(AuditEvent, { where: { userId }, order: { id: 'ASC' } }));
  return rows.map((e) => ({ type: e.type, reason: e.reason, actorId: e.actorId, provider: e.provider, details: e.details }));
}

/** The DomainError a call was refused with (its `code` is what a test compares); fails when it succeeded. */
export async function refusal(call: Promise<unknown>): Promise<DomainError> {
  const outcome = await call.then(
    () => new Error('expected a refusal, but the call succeeded'),
    (e: unknown) => e,
  );
  if (outcome instanceof DomainError) return outcome;
  throw outcome instanceof Error ? outcome : new Error(`expected a DomainError, got ${String(outcome)}`);
}
