// One layer of the HTTP stack on its own, answering the same small JSON as bench/bare-server.mjs, in its own process:
//   node bench/layer-server.mjs express   Express 5, one route, nothing else
//   node bench/layer-server.mjs nest      Nest on Express, one controller, no middleware, no pipes
//   node bench/layer-server.mjs fastify   Fastify 5, one route, nothing else
//   node bench/layer-server.mjs nest-fastify   Nest on Fastify (@nestjs/platform-fastify), the same controller
//   node bench/layer-server.mjs nest+ours  Nest on Express with the service's own per-request middleware (below)
//   node bench/layer-server.mjs nest-fastify+ours   the same on Nest's Fastify adapter (middleware through middie)
// The Fastify pair answers issue 20's question of Nest's own faster adapter from below: what a trivial route costs
// on it with nothing of ours, in the same run as the Express pair (docs/fastify-trial.md has the full-service trial).
// bench/http-layers.mjs sets them beside node:http and the service, to show where a trivial route's CPU goes.
import 'reflect-metadata';
import { createServer } from 'node:http';
import express from 'express';
import { Controller, Get, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';

const body = {
  issuer: 'http://127.0.0.1',
  jwks_uri: 'http://127.0.0.1/.well-known/jwks.json',
  token_endpoint: 'http://127.0.0.1/auth/token',
};
const mode = process.argv[2];
let server;
if (mode === 'express') {
  const app = express();
  app.get('/', (_req, res) => res.json(body));
  server = createServer(app);
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
} else if (mode === 'fastify') {
  const { default: fastify } = await import('fastify');
  const app = fastify();
  app.get('/', async () => body);
  await app.listen({ port: 0, host: '127.0.0.1' });
  server = app.server;
} else if (['nest', 'nest-fastify', 'nest+ours', 'nest-fastify+ours'].includes(mode)) {
  class Discovery {
    get() {
      return body;
    }
  }
  Get('/')(Discovery.prototype, 'get', Object.getOwnPropertyDescriptor(Discovery.prototype, 'get'));
  Controller()(Discovery);
  class Root {}
  Module({ controllers: [Discovery] })(Root);
  const adapter = mode.startsWith('nest-fastify') ? new (await import('@nestjs/platform-fastify')).FastifyAdapter() : undefined;
  const app = adapter
    ? await NestFactory.create(Root, adapter, { logger: false, bodyParser: false })
    : await NestFactory.create(Root, { logger: false, bodyParser: false });
  if (mode.endsWith('+ours')) await useOurMiddleware(app);
  await app.listen(0, '127.0.0.1');
  server = app.getHttpServer();
} else {
  throw new Error('usage: layer-server.mjs express|nest|fastify|nest-fastify|nest+ours|nest-fastify+ours');
}
/**
 * What the service runs on a trivial GET before its controller, from dist/ (npm run build): the request observer (id,
 * latency histogram, log line at the service's default level), helmet's headers replayed, CORS with a list of
 * origins, the cookie parser and its string check. Not the guards, the body parsers (no body) nor the static files.
 */
async function useOurMiddleware(app) {
  const dist = new URL(`../${process.env.BENCH_DIST ?? 'dist'}/`, import.meta.url);
  const [{ observeRequests }, { precomputedHeaders }, { MetricsService }, { stringCookiesOnly }] = await Promise.all(
    ['logging/request-observer.js', 'http/lean-middleware.js', 'metrics/metrics.service.js', 'common/hostile-input.js'].map(
      (f) => import(new URL(f, dist).href),
    ),
  );
  const { default: pino } = await import('pino');
  const { default: helmet } = await import('helmet');
  const { default: cookieParser } = await import('cookie-parser');
  app.use(observeRequests(pino({ level: 'info' }), new MetricsService()));
  app.use(precomputedHeaders(helmet({ referrerPolicy: { policy: 'no-referrer' }, strictTransportSecurity: false })));
  app.enableCors({ origin: ['http://127.0.0.1:3000'], methods: ['GET', 'POST', 'PATCH', 'DELETE'], maxAge: 600 });
  app.use(cookieParser());
  app.use(stringCookiesOnly);
}

process.stdout.write(`${JSON.stringify({ url: `http://127.0.0.1:${server.address().port}` })}\n`);
