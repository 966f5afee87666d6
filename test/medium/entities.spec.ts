import { NestFactory } from '@nestjs/core';
import type { INestApplicationContext } from '@nestjs/common';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource, getMetadataArgsStorage } from 'typeorm';
import { AppModule } from '../../src/app.module.js';
import type { ResolvedConfig } from '../../src/config/app-secret.js';
import { loadConfig } from '../../src/config/config.js';

/**
 * database/ lists no entity: each feature module registers its own (TypeOrmModule.forFeature) and the app's data source
 * loads what they registered (autoLoadEntities). An entity file whose module forgot it would only fail where a query
 * first touches it; here it fails at once, by name.
 */
const SRC = join(import.meta.dirname, '../../src');

describe('entities', () => {
  let dir: string;
  let app: INestApplicationContext | undefined;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sls-entities-'));
    const config = loadConfig({
      DATABASE_URL: `sqlite:${join(dir, 'app.db')}`,
      APP_SECRET: 'entities-spec-app-secret-0123456789abcdefghijklmnop',
      PUBLIC_URL: 'http://127.0.0.1:3000',
      DEMO_IDP: 'false',
      JWT_ALG: 'EdDSA',
    }) as ResolvedConfig;
    app = await NestFactory.createApplicationContext(AppModule.forRoot(config, { logLevel: 'silent' }), { logger: false });
  });

  afterAll(async () => {
    await app?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('the app’s data source holds every entity class declared under src/, each registered by its feature module', async () => {
    const files = readdirSync(SRC, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.entity.ts'));
    for (const file of files) await import(join(SRC, file));
    const declared = getMetadataArgsStorage()
      .tables.map((t) => (t.target as { name: string }).name)
      .sort();
    expect(declared.length).toBeGreaterThanOrEqual(files.length);
    const loaded = app!
      .get(DataSource)
      .entityMetadatas.map((m) => (m.target as { name: string }).name)
      .sort();
    expect(loaded).toEqual(declared);
  });
});
