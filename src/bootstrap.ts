import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import cookieParser from 'cookie-parser';
import { AppModule, type AppOptions } from './app.module.js';
import type { ResolvedConfig } from './config/app-secret.js';
import { DEMO_IDP_PATH } from './config/config.js';
import { createDemoIdp } from './demo/demo-idp.js';

/** Builds the configured application (shared by main.ts and the tests); the caller decides where it listens. */
export async function createApp(config: ResolvedConfig, options: AppOptions & { logger?: false } = {}): Promise<NestExpressApplication> {
  const app = await NestFactory.create<NestExpressApplication>(AppModule.forRoot(config, options), {
    logger: options.logger === false ? false : undefined,
    bodyParser: false,
  });
  app.disable('x-powered-by');
  // Small bodies only: nothing this service accepts is large (RFC 6749 requests are a few hundred bytes).
  app.useBodyParser('json', { limit: '16kb' });
  app.useBodyParser('urlencoded', { limit: '16kb', extended: false });
  app.use(cookieParser());
  const demo = createDemoIdp(config);
  if (demo) app.use(DEMO_IDP_PATH, demo.callback());
  app.enableShutdownHooks();
  await app.init();
  return app;
}
