import { mkdtempSync } from 'node:fs';
import type { Writable } from 'node:stream';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { INestApplication } from '@nestjs/common';
import { createApp, limitConnections } from '../../src/bootstrap.js';
import type { Clock } from '../../src/common/clock.js';
import type { ResolvedConfig } from '../../src/config/app-secret.js';
import { loadConfig } from '../../src/config/config.js';
import { freePort } from './net.js';
import { createTestDatabase } from './postgres.js';

export const TEST_APP_SECRET = 'test-app-secret-0123456789abcdefghijklmnopqrstuvwxyz';

export function tempDatabase(): string {
  return join(mkdtempSync(join(tmpdir(), 'sls-test-')), 'app.db');
}

export interface RunningService {
  url: string;
  publicUrl: string;
  app: INestApplication;
  config: ResolvedConfig;
  databaseUrl: string;
  /** Responses with a 5xx status this instance sent: the suite asserts there are none. */
  serverErrors: string[];
  close(): Promise<void>;
}

/**
 * Starts the real application on 127.0.0.1 (random port) with a fresh SQLite file unless `databaseUrl` is given.
 * Pass `publicUrl` to start a second instance "behind the same load balancer" as another one.
 */
export async function startService(
  env: Record<string, string> = {},
  opts: { clock?: Clock; databaseUrl?: string; publicUrl?: string; port?: number; logStream?: Writable } = {},
): Promise<RunningService> {
  const port = opts.port ?? (await freePort());
  const publicUrl = opts.publicUrl ?? `http://127.0.0.1:${port}`;
  // TEST_DB=postgres runs the whole suite on PostgreSQL: each service gets a database of its own.
  const pg = !opts.databaseUrl && process.env.TEST_DB === 'postgres' ? await createTestDatabase() : undefined;
  const databaseUrl = opts.databaseUrl ?? pg?.url ?? `sqlite:${tempDatabase()}`;
  const config = loadConfig({
    PORT: String(port),
    PUBLIC_URL: publicUrl,
    DATABASE_URL: databaseUrl,
    APP_SECRET: TEST_APP_SECRET,
    DEMO_IDP: 'false',
    // The suite signs in hundreds of times from 127.0.0.1; the rate-limit tests turn limits back on.
    RATE_LIMITS: 'off',
    // HTTP_ADAPTER=express runs a suite on Express (Fastify is the default: docs/fastify-trial.md).
    ...(process.env.HTTP_ADAPTER ? { HTTP_ADAPTER: process.env.HTTP_ADAPTER } : {}),
    ...env,
  }) as ResolvedConfig;
  const app = await createApp(config, {
    clock: opts.clock,
    logger: process.env.TEST_LOGS ? undefined : false,
    logStream: opts.logStream,
    logLevel: opts.logStream ? 'trace' : undefined,
  }).catch(async (e: unknown) => {
    // A start refused (createApp closes what it opened): the test database goes too.
    await pg?.drop();
    throw e;
  });
  try {
    await app.listen(port, '127.0.0.1');
  } catch (e) {
    // The free port was taken between choosing and listening: nothing may stay open (Jest would never exit).
    await app.close();
    await pg?.drop();
    const chosenHere = opts.port === undefined && opts.publicUrl === undefined;
    if ((e as { code?: string }).code === 'EADDRINUSE' && chosenHere) return startService(env, opts);
    throw e;
  }
  limitConnections(app.getHttpServer(), config);
  const serverErrors: string[] = [];
  app
    .getHttpServer()
    .on('request', (req: { method: string; url: string }, res: { statusCode: number; on: (e: string, f: () => void) => void }) => {
      res.on('finish', () => {
        if (res.statusCode >= 500) serverErrors.push(`${res.statusCode} ${req.method} ${req.url}`);
      });
    });
  const close = async () => {
    await app.close();
    await pg?.drop();
  };
  return { url: `http://127.0.0.1:${port}`, publicUrl, app, config, databaseUrl, serverErrors, close };
}

/** The e2e suites take it from here. */
export { ManualClock } from './clock.js';
