import fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest, type FastifyServerOptions } from 'fastify';
import etag from 'etag';
import fresh from 'fresh';
import type { IncomingMessage, ServerResponse } from 'node:http';

/** A middleware in Express's shape, on Node's request and response (ours are all such). */
type NodeMiddleware = (req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void) => void;

/** What Express's request carries and our code reads, set on Node's request (the observer) and Fastify's (`res`). */
type ExpressShaped = IncomingMessage & { route?: { path: string }; baseUrl?: string; originalUrl?: string };

/** The pieces, bound once the application (whose services the observer uses) exists. */
export interface FastifyPieces {
  observe: NodeMiddleware;
  headers: NodeMiddleware;
  cookies: NodeMiddleware[];
  /** The body middleware Express runs (body-parser's JSON and form parsers, then refuseHostileBodies). */
  body: NodeMiddleware;
}

/**
 * The Fastify instance the service runs on, with its per-request pieces as hooks in the order Express ran them as
 * middleware (docs/fastify-trial.md; the default adapter, `HTTP_ADAPTER=express` for Express). Made here, before
 * Nest's adapter adds its own hooks to it, so that ours run first on every request, CORS preflights and the OpenID
 * Provider's routes (Nest middleware) included:
 *
 * - onRequest, ours: the request observer (id, log line, latency) and helmet's headers on Node's request and
 *   response, then the cookies (cookie-parser and the string check, on Node's request, given to Fastify's too) and
 *   `req.res` (Express gives every request its response; the Passport state stores and the sign-in services write
 *   their cookies through it);
 * - onRequest, Nest's adapter: CORS (so refused bodies and the OpenID Provider's answers carry it, as on Express);
 * - onRequest, ours again (readBodies): the body, through Express's own body middleware;
 * - onRequest, Nest's middleware (middie): the OpenID Provider's mount;
 * - preHandler: the route pattern for the metrics' label, once the request has reached its route, as Express sets
 *   `req.route` only there (a request refused earlier is `unmatched` on both);
 * - onSend: Express's ETag and 304.
 * A URL the router cannot read is answered through the same observer and headers (frameworkErrors), as Express's 404.
 */
export function createFastifyInstance(options: FastifyServerOptions): {
  instance: FastifyInstance;
  /** After Nest's adapter added its hooks (CORS) and before its middleware: the body, read as Express reads it. */
  readBodies(): void;
  bind(pieces: FastifyPieces): void;
} {
  let pieces: FastifyPieces | undefined;
  const bound = (): FastifyPieces => {
    if (!pieces) throw new Error('createFastifyInstance: a request came before the pieces were bound');
    return pieces;
  };
  const instance = fastify({
    ...options,
    frameworkErrors: (error, request, reply) => {
      const { observe, headers } = bound();
      const raw = request.raw as ExpressShaped;
      raw.originalUrl = raw.url;
      observe(raw, reply.raw, () =>
        headers(raw, reply.raw, () => {
          // Express's answer to a path no route matches (its router reads no percent-escapes before matching), with
          // the Vary its CORS middleware adds to every answer (CORS itself, a hook, has not run: no route, no
          // Access-Control-Allow-Origin either, which no browser app needs on a 404).
          const status = error.code === 'FST_ERR_BAD_URL' ? 404 : (error.statusCode ?? 400);
          const answer =
            status === 404
              ? { error: 'not_found', error_description: `Cannot ${raw.method} ${raw.url}` }
              : { error: 'invalid_request', error_description: 'malformed request' };
          const plain = reply as unknown as FastifyReply;
          void plain.code(status).header('cache-control', 'no-store').header('vary', 'Origin').send(answer);
        }),
      );
    },
  });
  instance.addHook('onRequest', (request, reply, done) => {
    const { observe, headers, cookies } = bound();
    const raw = request.raw as ExpressShaped & { cookies?: unknown };
    raw.originalUrl = request.url;
    const chain = [observe, headers, ...cookies];
    const next = (i: number) => (err?: unknown) => {
      if (err) return done(err as Error);
      if (i < chain.length) return chain[i](raw, reply.raw, next(i + 1));
      const shaped = request as FastifyRequest & { res?: FastifyReply; cookies?: unknown };
      shaped.res = reply;
      shaped.cookies = raw.cookies;
      done();
    };
    next(0)();
  });
  // Every body is read by the same middleware as on Express (body-parser, then refuseHostileBodies), on Node's
  // request: the same answers to every charset, coding, size, parameter count and key, for the OpenID Provider's
  // routes (Nest middleware, which runs before Fastify would parse) as for ours. Fastify's parsers then hand over
  // what it read (`*` below), and a body of another type stays unread, as on Express.
  const readBody = (request: FastifyRequest, reply: FastifyReply, done: (err?: Error) => void) =>
    bound().body(request.raw, reply.raw, (err) => {
      // A Content-Type Fastify cannot parse (empty, no subtype, a list) is refused by its router with its own 415 before
      // the route (handle-request.js); Express runs the route and leaves such a body unread, as body-parser just did
      // here. So Fastify is shown no Content-Type then, and its parser stage hands over nothing ('*' below).
      if (request.headers['content-type'] !== undefined && request.mediaType === undefined) request.headers = { 'content-type': undefined };
      done(err as Error | undefined);
    });
  instance.removeAllContentTypeParsers();
  instance.addContentTypeParser('*', (request, _payload, done) => done(null, (request.raw as IncomingMessage & { body?: unknown }).body));
  instance.addHook('preHandler', (request, _reply, done) => {
    if (request.routeOptions.url) Object.assign(request.raw as ExpressShaped, { route: { path: request.routeOptions.url }, baseUrl: '' });
    done();
  });
  // Express's ETag and freshness on every answer with a body (its res.send): a weak ETag of the bytes (the etag
  // package, Express's own), and 304 for a GET or HEAD whose If-None-Match or If-Modified-Since it satisfies (the fresh
  // package, RFC 9110 §13.1.2, only for 2xx). The consumer kit polls the revocation feed with If-None-Match.
  instance.addHook('onSend', (request, reply, payload, done) => {
    if (typeof payload !== 'string' && !Buffer.isBuffer(payload)) return done(null, payload);
    if (!reply.hasHeader('etag')) reply.header('etag', etag(payload, { weak: true }));
    const status = reply.statusCode;
    const validators = { etag: reply.getHeader('etag') as string, 'last-modified': reply.getHeader('last-modified') as string | undefined };
    if (
      (request.method === 'GET' || request.method === 'HEAD') &&
      ((status >= 200 && status < 300) || status === 304) &&
      fresh(request.headers, validators)
    ) {
      reply.code(304).removeHeader('content-type');
      reply.removeHeader('content-length');
      return done(null, '');
    }
    done(null, payload);
  });
  // A request Node's HTTP parser refuses (a malformed Content-Length or Transfer-Encoding, RFC 9112 §6.3) is answered
  // by Node itself, as under Express (400, or 431/408, and no body), not by Fastify's JSON: no listener, Node's default.
  instance.server.removeAllListeners('clientError');
  return { instance, readBodies: () => void instance.addHook('onRequest', readBody), bind: (p) => void (pieces = p) };
}

/**
 * Express's `trust proxy` values on Fastify: a hop count n trusts the n nearest proxies (Express's compileTrust); Fastify
 * 5 trusts nothing for a number. Addresses, subnets and names (`loopback`) Fastify reads as Express does.
 */
export function fastifyTrustProxy(value: string | number | undefined): string | ((address: string, hop: number) => boolean) | undefined {
  return typeof value === 'number' ? (_address, hop) => hop < value : value;
}
