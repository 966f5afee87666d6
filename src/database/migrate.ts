import 'reflect-metadata';
import { DataSource } from 'typeorm';
import { ConfigError, parseDatabaseUrl } from '../config/config.js';
import { dataSourceOptions } from './data-source.js';

/**
 * `npm run migration:run`: applies pending migrations to DATABASE_URL and exits, for deployments that migrate before
 * rolling out new instances (instances also apply pending migrations at start-up).
 */
async function main(): Promise<void> {
  const db = parseDatabaseUrl(process.env.DATABASE_URL || 'sqlite:./data/app.db');
  const ds = new DataSource({ ...dataSourceOptions(db), migrationsRun: false });
  await ds.initialize();
  try {
    const applied = await ds.runMigrations({ transaction: 'each' });
    process.stdout.write(
      applied.length ? `applied: ${applied.map((m) => m.name).join(', ')}\n` : 'nothing to apply: the schema is current\n',
    );
  } finally {
    await ds.destroy();
  }
}

main().catch((e: Error) => {
  process.stderr.write(`${e instanceof ConfigError ? e.message : (e.stack ?? e.message)}\n`);
  process.exit(1);
});
