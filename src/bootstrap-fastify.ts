import type { INestApplication } from '@nestjs/common';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import etag from 'etag';
import fresh from 'fresh';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';

/** A middleware in Express's shape, on Node's request and response (ours are all such). */
type NodeMiddleware = (req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void) => void;
/** A middleware that reads the adapter's request (its parsed body, cookies). */
type RequestMiddleware = (req: FastifyRequest, res: FastifyReply, next: (err?: unknown) => void) => void;

/** What Express's request carries and our code reads, set on Node's request (the observer) and Fastify's (`res`). */
type ExpressShaped = IncomingMessage & { route?: { path: string }; baseUrl?: string; originalUrl?: string };

/**
 * The service's per-request pieces as Fastify runs them, in the order Express ran them (docs/fastify-trial.md,
 * step 2). `HTTP_ADAPTER=fastify`; Express stays the default.
 *
 * - As Nest middleware (@fastify/middie, on Node's request and response, before the modules' own middleware such as
 *   the OpenID Provider's mount, as on Express): the request observer (id, log line, latency), helmet's headers, the
 *   cookie parser and its string check.
 * - onRequest, after those: Fastify's request gets the parsed cookies and `res` (Express gives every request its
 *   response; the Passport state stores and the sign-in services write their cookies through it), and a body
 *   body-parser would refuse is refused (bodyRefusal).
 * - preValidation, after Fastify's body parsers: the hostile-body check.
 * - preHandler: the route pattern for the metrics' label, once the request has reached its route, as Express sets
 *   `req.route` only there (a request refused earlier is `unmatched` on both).
 */
export function useFastifyPieces(
  app: INestApplication,
  pieces: { observe: NodeMiddleware; headers: NodeMiddleware; cookies: NodeMiddleware[]; hostileBodies: RequestMiddleware },
): void {
  for (const middleware of [pieces.observe, pieces.headers, ...pieces.cookies]) app.use(middleware);
  const fastify = (app as NestFastifyApplication).getHttpAdapter().getInstance() as FastifyInstance;
  fastify.addHook('onRequest', (request, reply, done) => {
    const shaped = request as FastifyRequest & { res?: FastifyReply; cookies?: unknown };
    shaped.res = reply;
    shaped.cookies = (request.raw as IncomingMessage & { cookies?: unknown }).cookies;
    done(bodyRefusal(request.headers['content-type'], request.headers));
  });
  fastify.addHook('preValidation', (request, reply, done) => pieces.hostileBodies(request, reply, (err) => done(err as Error | undefined)));
  // Express's ETag and freshness on every answer with a body (its res.send): a weak ETag of the bytes (the etag
  // package, Express's own), and 304 for a GET or HEAD whose If-None-Match or If-Modified-Since it satisfies (the fresh
  // package, RFC 9110 §13.1.2, only for 2xx). The consumer kit polls the revocation feed with If-None-Match.
  fastify.addHook('onSend', (request, reply, payload, done) => {
    if (typeof payload !== 'string' && !Buffer.isBuffer(payload)) return done(null, payload);
    if (!reply.hasHeader('etag')) reply.header('etag', etag(payload, { weak: true }));
    const status = reply.statusCode;
    const validators = { etag: reply.getHeader('etag') as string, 'last-modified': reply.getHeader('last-modified') as string | undefined };
    if ((request.method === 'GET' || request.method === 'HEAD') && ((status >= 200 && status < 300) || status === 304) && fresh(request.headers, validators)) {
      reply.code(304).removeHeader('content-type');
      reply.removeHeader('content-length');
      return done(null, '');
    }
    done(null, payload);
  });
  // A request Node's HTTP parser refuses (a malformed Content-Length or Transfer-Encoding, RFC 9112 §6.3) is answered
  // by Node itself, as under Express (400, or 431/408, and no body), not by Fastify's JSON: no listener, Node's default.
  (app.getHttpServer() as Server).removeAllListeners('clientError');
  fastify.addHook('preHandler', (request, _reply, done) => {
    if (request.routeOptions.url) Object.assign(request.raw as ExpressShaped, { route: { path: request.routeOptions.url }, baseUrl: '' });
    done();
  });
}

/**
 * What Fastify's parsers would read that body-parser refuses (415): a compressed body (below), and a charset other than
 * those body-parser accepts: JSON in a UTF (RFC 8259 §8.1), a form in UTF-8
 * (Express's urlencoded parser). Fastify's parsers read the bytes whatever the label says; a body that says it is
 * Latin-1 is not read as UTF-8 here either.
 */
function bodyRefusal(contentType: string | undefined, headers: IncomingMessage['headers']): Error | undefined {
  if (!contentType || (headers['transfer-encoding'] === undefined && Number.isNaN(Number(headers['content-length'])))) return undefined;
  const [type, ...params] = contentType.split(';').map((p) => p.trim().toLowerCase());
  const charset = params.find((p) => p.startsWith('charset='))?.slice('charset='.length).replace(/^"|"$/g, '');
  // body-parser inflates gzip, deflate and br bodies and refuses other codings; nothing sends a compressed body to
  // these routes, so on Fastify every coding but identity is refused alike (docs/fastify-trial.md).
  const coding = headers['content-encoding']?.trim().toLowerCase();
  if (coding && coding !== 'identity') return Object.assign(new Error(`unsupported content encoding "${coding}"`), { statusCode: 415 });
  if (charset === undefined) return undefined;
  const json = type === 'application/json' || type.endsWith('+json');
  const form = type === 'application/x-www-form-urlencoded';
  if ((json && !charset.startsWith('utf-')) || (form && charset !== 'utf-8')) {
    return Object.assign(new Error(`unsupported charset "${charset.toUpperCase()}"`), { statusCode: 415 });
  }
  return undefined;
}
