import type { INestApplication } from '@nestjs/common';
import { GUARDS_METADATA, INTERCEPTORS_METADATA, PIPES_METADATA } from '@nestjs/common/constants.js';
import { HttpAdapterHost, Reflector } from '@nestjs/core';
import { ExecutionContextHost } from '@nestjs/core/helpers/execution-context-host.js';
import type { ExpressAdapter, NestExpressApplication } from '@nestjs/platform-express';
import type { Express, NextFunction, Request, RequestHandler, Response } from 'express';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { TokenController } from './token.controller.js';
import { RateLimitGuard } from '../rate-limit/rate-limit.guard.js';
import { DomainErrorFilter } from '../http/domain-error.filter.js';
import { IS_PUBLIC } from '../http/public.decorator.js';
import { RATE_LIMIT, type RateLimitClass } from '../http/rate-limit.decorator.js';
import { ROLES } from '../http/roles.decorator.js';

const PATH = '/auth/token';
/** What the observer reads for the metrics' route label (Express sets `req.route` to the matched route). */
const ROUTE = { path: PATH };

/**
 * The token endpoint's requests taken from node:http straight to TokenController.token, past Express's router and
 * Nest's route pipeline, running the same pieces those would run, in the same order and the same instances: the
 * request observer, helmet's headers, the body parsers and hostile-body check, the rate limit of the route's
 * @RateLimit, the controller, Nest's own reply, and DomainErrorFilter for every error.
 *
 * Why: the refresh grant is the request a service like this answers most (every client, every few minutes), and above
 * its floor (one signature and the rotation's commit) the router and the route pipeline were the largest cost. CPU per
 * refresh 0.78× and 0.83× of the Express path in two interleaved runs (`node bench/ab.mjs <dist without> <dist with>
 * refresh sqlite 5`, 2026-12-02, 2 cores); RS256 refresh 0.65× → 0.88× of oidc-provider in `npm run bench`
 * (BENCHMARKS.md, "Where the targets stand").
 *
 * What it leaves to Express: every other route and method, a query string, and any request with an `Origin` header
 * (CORS stays in one place: browser apps' refreshes take the Express path, with the same controller behind it). It
 * parses no cookies: nothing on this route reads one. At start-up it refuses to run if the route needs anything it
 * does not run (a guard, interceptor or pipe of its own, roles, a lost @Public, or a parameter the global
 * ValidationPipe would validate), so the two paths cannot drift apart silently; the global guards, pipes and filter it
 * accounts for are pinned by a test, and `direct-token-endpoint.e2e.ts` sends the same requests both ways and compares
 * the answers (SECURITY.md R4).
 */
export function serveTokenEndpointDirectly(
  app: NestExpressApplication,
  pieces: { observe: RequestHandler; headers: RequestHandler; body: RequestHandler },
): void {
  const handler = TokenController.prototype.token;
  const rateLimit = routeRateLimit(app, handler);
  const controller = app.get(TokenController);
  const guard = app.get(RateLimitGuard);
  // The filter Nest applies (APP_FILTER); it holds no state, so this instance answers exactly as that one.
  const filter = new DomainErrorFilter(app.get(HttpAdapterHost));
  const adapter = app.getHttpAdapter() as unknown as ExpressAdapter;
  const express = adapter.getInstance() as Express;
  const server = app.getHttpServer() as import('node:http').Server;
  const [viaExpress, ...others] = server.listeners('request') as ((req: IncomingMessage, res: ServerResponse) => void)[];
  if (!viaExpress || others.length) throw new Error('serveTokenEndpointDirectly: expected Express as the one request listener');

  const fail = (err: unknown, req: Request, res: Response) => filter.catch(err, new ExecutionContextHost([req, res]));
  const answer = async (req: Request, res: Response) => {
    // Routed only now, as Express routes after the body middleware: a body refused before this counts as `unmatched`
    // in the metrics both ways.
    req.route = ROUTE;
    try {
      if (rateLimit) await guard.enforce(rateLimit, req);
      const body = await controller.token(req.body as unknown, req, res);
      adapter.reply(res, body, 200);
    } catch (err) {
      fail(err, req, res);
    }
  };

  server.removeListener('request', viaExpress);
  server.on('request', (incoming: IncomingMessage, outgoing: ServerResponse) => {
    if (incoming.method !== 'POST' || incoming.url !== PATH || incoming.headers.origin !== undefined) {
      viaExpress(incoming, outgoing);
      return;
    }
    // What Express's own init does for every request: its request and response methods (req.ip with `trust proxy`,
    // res.json), and the fields the observer reads.
    const req = Object.setPrototypeOf(incoming, express.request as object) as Request;
    const res = Object.setPrototypeOf(outgoing, express.response as object) as Response;
    Object.assign(req, { res, originalUrl: PATH, baseUrl: '' });
    Object.assign(res, { req, locals: Object.create(null) as Record<string, unknown> });
    // A middleware's error is first mapped by the adapter, as Nest's own error handler for middleware does
    // (RoutesResolver: a body-parser error becomes the HttpException the filter then answers).
    const then = (next: () => void): NextFunction =>
      ((err?: unknown) => (err ? fail(adapter.mapException(err), req, res) : next())) as NextFunction;
    pieces.observe(
      req,
      res,
      then(() =>
        pieces.headers(
          req,
          res,
          then(() => {
            // What the CORS middleware adds to every answer when the allowed origins are a list, with or without an
            // Origin header (the `cors` package's configureOrigin): requests with one take the Express path.
            res.vary('Origin');
            pieces.body(
              req,
              res,
              then(() => void answer(req, res)),
            );
          }),
        ),
      ),
    );
  });
}

/** Parameter types the global ValidationPipe passes through untouched (its toValidate skips them). */
const UNVALIDATED = new Set<unknown>([Object, String, Number, Boolean, Array]);

/** The route's rate-limit class, after checking that it needs nothing else the direct path does not run. */
function routeRateLimit(app: INestApplication, handler: (...args: never[]) => unknown): RateLimitClass | undefined {
  const reflector = app.get(Reflector);
  const targets = [handler, TokenController];
  const needs = [GUARDS_METADATA, INTERCEPTORS_METADATA, PIPES_METADATA].filter((key) => targets.some((t) => Reflect.getMetadata(key, t)));
  if (!reflector.getAllAndOverride<boolean>(IS_PUBLIC, targets)) needs.push('not @Public (the bearer guard would run)');
  if (reflector.getAllAndOverride(ROLES, targets)) needs.push('@Roles');
  const params = (Reflect.getMetadata('design:paramtypes', TokenController.prototype, handler.name) ?? []) as unknown[];
  if (params.some((type) => !UNVALIDATED.has(type))) needs.push('a parameter the ValidationPipe validates');
  if (needs.length) throw new Error(`serveTokenEndpointDirectly: ${PATH} needs more than the direct path runs (${needs.join(', ')})`);
  return reflector.getAllAndOverride<RateLimitClass | undefined>(RATE_LIMIT, targets);
}
