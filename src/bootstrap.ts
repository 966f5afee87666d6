import { ValidationPipe, type INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import type { Server } from 'node:http';
import querystring from 'node:querystring';
import cookieParser from 'cookie-parser';
import express from 'express';
import helmet from 'helmet';
import { AppModule, type AppOptions } from './app.module.js';
import type { ResolvedConfig } from './config/app-secret.js';
import { DEMO_IDP_PATH, servedOverHttps } from './config/config.js';
import { createDemoIdp, demoIdpHandler } from './demo/demo-idp.js';
import { fileURLToPath } from 'node:url';
import { refuseHostileBodies, stringCookiesOnly } from './common/hostile-input.js';
import { AppLogger } from './logging/app-logger.js';
import { APP_LOG } from './logging/logging.module.js';
import { observeRequests } from './logging/request-observer.js';
import { keepRawBody, onlyWithBody, precomputedHeaders } from './http/lean-middleware.js';
import { MetricsService } from './metrics/metrics.service.js';
import { createFastifyInstance, fastifyTrustProxy } from './bootstrap-fastify.js';

/** public/ at the repository root, from src/ (tests) and dist/ (built) alike. */
const PUBLIC_DIR = fileURLToPath(new URL('../public/', import.meta.url));
/** Small bodies only: nothing this service accepts is large (RFC 6749 requests are a few hundred bytes). 16 kB. */
const BODY_LIMIT = 16 * 1024;

/**
 * Server limits against idle and slow clients (slow loris): a silent connection is closed after HTTP_IDLE_TIMEOUT_MS,
 * headers must arrive within 10 s and a whole request within 30 s. Call after `listen`.
 */
export function limitConnections(server: Server, config: ResolvedConfig): void {
  server.setTimeout(config.httpIdleTimeoutMs);
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  server.keepAliveTimeout = 5_000;
}

/** Builds the configured application (shared by main.ts and the tests); the caller decides where it listens. */
export async function createApp(config: ResolvedConfig, options: AppOptions & { logger?: false } = {}): Promise<INestApplication> {
  return config.httpAdapter === 'express' ? createExpressApp(config, options) : createFastifyApp(config, options);
}

/** What both adapters run alike: the module, the logger, the observer, helmet's headers, CORS, pipes, docs. */
async function commonParts(app: INestApplication, config: ResolvedConfig, quiet: boolean) {
  if (!quiet) app.useLogger(app.get(AppLogger));
  // First, so that the request id, the log line and the latency cover everything after it.
  const observe = observeRequests(app.get(APP_LOG), app.get(MetricsService));
  // Security headers; Referrer-Policy no-referrer everywhere keeps codes in callback URLs from leaking (F8).
  const https = servedOverHttps(config);
  const headers = precomputedHeaders(
    helmet({
      referrerPolicy: { policy: 'no-referrer' },
      strictTransportSecurity: https,
      // On plain http (local development) upgrading requests to https would break every page.
      contentSecurityPolicy: { directives: { upgradeInsecureRequests: https ? [] : null } },
    }),
  );
  const cors = {
    // Browser apps call the token endpoint and the API from the origins they may be sent back to, and from no other.
    origin: [...new Set(config.allowedReturnUrls.map((u) => new URL(u).origin))],
    // Strings, as sent: Express's cors joins a list with ", " and Fastify's with "," (the same bytes on both).
    methods: 'GET, POST, PATCH, DELETE',
    allowedHeaders: 'authorization, content-type',
    maxAge: 600,
  };
  const finish = async () => {
    // Every body and query DTO: unknown fields refused, types and lengths checked (400 invalid_request).
    app.useGlobalPipes(new ValidationPipe({ whitelist: true, forbidNonWhitelisted: true, transform: true }));
    const openapi = new DocumentBuilder()
      .setTitle('Social login service')
      .setDescription('Sign-in with Google, Facebook and OpenID Connect providers; the service’s own JWTs; accounts and admin API.')
      .setVersion('1')
      .addBearerAuth({ type: 'http', scheme: 'bearer', bearerFormat: 'JWT (RFC 9068 access token)' })
      .build();
    SwaggerModule.setup('docs', app, () => SwaggerModule.createDocument(app, openapi), { jsonDocumentUrl: 'docs-json' });
    const demo = createDemoIdp(config);
    if (demo) app.use(DEMO_IDP_PATH, demoIdpHandler(demo));
    app.enableShutdownHooks();
    await app.init();
  };
  return { observe, headers, cors, finish };
}

/** Only for the client IP in sessions and the audit trail: URLs always come from PUBLIC_URL (SECURITY.md F4). */
const trustProxy = (config: ResolvedConfig) =>
  config.trustProxy === undefined ? undefined : /^\d+$/.test(config.trustProxy) ? Number(config.trustProxy) : config.trustProxy;

/** The body middleware, the same on both adapters: Express's parsers (body-parser), only where there is a body. */
const bodyMiddleware = () =>
  onlyWithBody(
    // req.rawBody keeps the bytes as sent, for refuseHostileBodies (as Nest's `rawBody: true` does).
    express.json({ limit: BODY_LIMIT, verify: keepRawBody }),
    // Not extended: a form is flat (brackets stay part of a key), as RFC 6749 forms are.
    express.urlencoded({ limit: BODY_LIMIT, extended: false, verify: keepRawBody }),
    // Bounded nesting and no prototype keys, for every route at once (400 invalid_request).
    refuseHostileBodies,
  );

const quietFor = (options: AppOptions & { logger?: false }) => options.logger === false && !options.logStream;

/** The application on Nest's Express adapter (`HTTP_ADAPTER=express`), for those who add Express middleware of their own. */
async function createExpressApp(config: ResolvedConfig, options: AppOptions & { logger?: false }): Promise<NestExpressApplication> {
  const quiet = quietFor(options);
  const app = await NestFactory.create<NestExpressApplication>(
    AppModule.forRoot(config, { ...options, logLevel: quiet ? 'silent' : options.logLevel }),
    {
      bufferLogs: !quiet,
      logger: quiet ? false : undefined,
      // Our own parsers below, only where a request has a body.
      bodyParser: false,
    },
  );
  const { observe, headers, cors, finish } = await commonParts(app, config, quiet);
  app.disable('x-powered-by');
  app.use(observe);
  if (config.trustProxy) app.set('trust proxy', trustProxy(config));
  app.use(headers);
  // The pages' stylesheet and scripts (public/), same origin, so their CSP needs nothing inline.
  app.useStaticAssets(PUBLIC_DIR, { prefix: '/assets/', index: false, maxAge: '1h', redirect: false });
  app.enableCors(cors);
  app.use(bodyMiddleware());
  app.use(cookieParser(), stringCookiesOnly);
  await finish();
  return app;
}

/**
 * The application on Nest's Fastify adapter, the default (docs/fastify-trial.md: a quarter of Express's CPU per simple
 * request): our pieces as hooks of a Fastify instance we make (bootstrap-fastify.ts), bodies read by the same body
 * middleware as on Express.
 */
async function createFastifyApp(config: ResolvedConfig, options: AppOptions & { logger?: false }): Promise<INestApplication> {
  const quiet = quietFor(options);
  const { instance, readBodies, bind } = createFastifyInstance({
    bodyLimit: BODY_LIMIT,
    trustProxy: fastifyTrustProxy(trustProxy(config)),
    routerOptions: {
      // As Express routes: /a/ is /a, and paths are case-insensitive; a parameter as long as the request line allows
      // (Node's 16 kB for the request line and headers), so an over-long id meets the route's guard and pipes, not a 414.
      ignoreTrailingSlash: true,
      caseSensitive: false,
      maxParamLength: 16 * 1024,
      // Express 5's query parser ("simple": node:querystring), which decodes what it can of a value with a stray "%";
      // Fastify's own gives such a value back undecoded, so a returnTo would lose its URL.
      querystringParser: (query) => querystring.parse(query),
    },
  });
  const adapter = new FastifyAdapter(instance);
  readBodies();
  const app = await NestFactory.create<NestFastifyApplication>(
    AppModule.forRoot(config, { ...options, logLevel: quiet ? 'silent' : options.logLevel }),
    adapter,
    // Bodies are read by Express's own parsers (createFastifyInstance), not Nest's for Fastify.
    { bufferLogs: !quiet, logger: quiet ? false : undefined, bodyParser: false },
  );
  const { observe, headers, cors, finish } = await commonParts(app, config, quiet);
  bind({
    observe: observe as never,
    headers: headers as never,
    cookies: [cookieParser() as never, stringCookiesOnly as never],
    body: bodyMiddleware() as never,
  });
  app.useStaticAssets({ root: PUBLIC_DIR, prefix: '/assets/', index: false, maxAge: 3_600_000, redirect: false, decorateReply: false });
  // strictPreflight off: every OPTIONS gets the allowed methods, as Express's cors answers it; @fastify/cors would refuse
  // one without Origin or Access-Control-Request-Method with a text/plain 400 (RFC 9110 §9.3.7: OPTIONS asks what a
  // resource allows, and need not come from a browser).
  app.enableCors({ ...cors, strictPreflight: false });
  await finish();
  await instance.ready();
  return app;
}
