import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { resolveAppSecret } from './config/app-secret.js';
import { ConfigError, loadConfig } from './config/config.js';
import { createApp, limitConnections } from './bootstrap.js';

async function main(): Promise<void> {
  const logger = new Logger('Main');
  let config;
  try {
    config = resolveAppSecret(loadConfig(process.env), (m) => logger.warn(m));
  } catch (e) {
    if (e instanceof ConfigError) {
      logger.error(e.message);
      process.exit(1);
    }
    throw e;
  }
  const app = await createApp(config);
  // Every interface, as Express (Node) listens by default; Fastify's default is localhost only.
  await (config.httpAdapter === 'fastify' ? app.listen(config.port, '::') : app.listen(config.port));
  limitConnections(app.getHttpServer(), config);
  logger.log(`listening on ${config.publicUrl} (port ${config.port}, ${config.database.type})`);
  if (config.demoIdp) logger.log(`demo sign-in: open ${config.publicUrl}/ and choose "Continue with Demo"`);
}

void main();
