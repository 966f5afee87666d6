import type { IncomingMessage, ServerResponse } from 'node:http';
import { PayloadTooLargeException } from '@nestjs/common';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import qs from 'qs';

/*
 * The same middleware the service always ran, arranged so that a request pays only for what applies to it. Measured
 * with `node bench/http-layers.mjs` and `node bench/ab.mjs <before> <after> get` (BENCHMARKS.md, "The HTTP layer"):
 * on a trivial GET, helmet's twelve middlewares and three body middlewares that find no body were about a
 * fifth of the request's CPU above Nest itself.
 */

type Middleware = (req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void) => void;

/**
 * helmet's headers, computed once: with static options (no CSP nonce functions) every response gets the same
 * headers, so its twelve middlewares run once at start-up against a recording response, and each request replays
 * the recording (helmet stays the source of what the headers are).
 */
export function precomputedHeaders(middleware: Middleware): RequestHandler {
  const set: [string, string | number | readonly string[]][] = [];
  const removed: string[] = [];
  const recorder = {
    setHeader: (name: string, value: string | number | readonly string[]) => void set.push([name, value]),
    removeHeader: (name: string) => void removed.push(name),
    getHeader: () => undefined,
  } as unknown as ServerResponse;
  let finished = false;
  middleware({ headers: {}, method: 'GET', url: '/' } as IncomingMessage, recorder, (err) => {
    if (err) throw err as Error;
    finished = true;
  });
  // A middleware that answered or waited instead of calling next() is not one whose output can be replayed.
  if (!finished) throw new Error('precomputedHeaders: the middleware did not call next() synchronously');
  return (_req: Request, res: Response, next: NextFunction) => {
    for (const name of removed) res.removeHeader(name);
    for (const [name, value] of set) res.setHeader(name, value);
    next();
  };
}

/**
 * Body middleware (parsers, and the checks after them) only where there is a body: RFC 9112 §6.3, a request has a
 * body when it carries Transfer-Encoding or a non-zero Content-Length. The parsers themselves make the same check,
 * one by one; this makes it once.
 */
export function onlyWithBody(...middleware: RequestHandler[]): RequestHandler {
  return (req, res, next) => {
    const length = req.headers['content-length'];
    if (req.headers['transfer-encoding'] === undefined && (length === undefined || length === '0')) return next();
    let i = 0;
    const step = (err?: unknown): void => {
      if (err !== undefined || i === middleware.length) return next(err);
      middleware[i++](req, res, step);
    };
    step();
  };
}

/** body-parser's `verify` hook: keeps the body's bytes as `req.rawBody` (at most the parser's limit). */
export function keepRawBody(req: IncomingMessage, _res: ServerResponse, buffer: Buffer): void {
  (req as IncomingMessage & { rawBody?: Buffer }).rawBody = buffer;
}

const FORM_TYPES = new Set(['application/x-www-form-urlencoded', 'application/x-www-form-urlencoded; charset=utf-8']);
const DECIMAL = /^[1-9][0-9]{0,8}$/;

/**
 * An RFC 6749 form body of the plainest kind (that media type, UTF-8, a Content-Length within `limit`, no
 * Content-Encoding or Transfer-Encoding) read here and parsed by the same parser with the same options as body-parser's
 * `urlencoded({ extended: false })` (qs, 1,000 parameters, flat keys); every other body goes to `fallback`, the body
 * parsers themselves. `after` runs next as it does after them (the hostile-body check).
 *
 * Why not body-parser for these too: on the token endpoint its per-request machinery (content-type and charset parsing
 * twice, raw-body's stream bookkeeping, iconv, on-finished) was about a tenth of a refresh's CPU: 0.88× CPU per refresh
 * with this reader (`node bench/ab.mjs <without> <with> refresh sqlite 3`, 2026-12-02), BENCHMARKS.md. What can differ
 * from body-parser is kept small: only bodies whose parse cannot fail take this path, and a test sends every kind of
 * body both ways and compares the answers (test/e2e/direct-token-endpoint.e2e.ts, SECURITY.md R4).
 */
export function plainFormBody(opts: { limit: number; fallback: RequestHandler; after: RequestHandler }): RequestHandler {
  const { limit, fallback, after } = opts;
  return (req, res, next) => {
    const type = req.headers['content-type'];
    const length = req.headers['content-length'];
    if (
      type === undefined ||
      !FORM_TYPES.has(type.toLowerCase()) ||
      length === undefined ||
      !DECIMAL.test(length) ||
      Number(length) > limit ||
      req.headers['content-encoding'] !== undefined ||
      req.headers['transfer-encoding'] !== undefined
    ) {
      fallback(req, res, next);
      return;
    }
    const expected = Number(length);
    const chunks: Buffer[] = [];
    let received = 0;
    // Node's parser ends the body at Content-Length (RFC 9112 §6.2); a client that goes away before it is done gets
    // no answer, as with body-parser (its "request aborted" goes to a closed socket).
    req.on('data', (chunk: Buffer) => {
      received += chunk.length;
      chunks.push(chunk);
    });
    req.once('end', () => {
      if (received !== expected) return void req.destroy();
      const raw = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, received);
      keepRawBody(req, res, raw);
      req.body = parseForm(raw);
      if (req.body === undefined) return void next(new PayloadTooLargeException(TOO_MANY_PARAMETERS));
      after(req, res, next);
    });
  };
}

const PARAMETER_LIMIT = 1000;
/** body-parser's own message for it (413, `parameters.too.many`), which the answer quotes. */
const TOO_MANY_PARAMETERS = 'too many parameters';

/** body-parser's urlencoded parse with `extended: false` (its createQueryParser), or undefined past the parameter limit. */
function parseForm(raw: Buffer): Record<string, unknown> | undefined {
  // iconv-lite, which body-parser decodes with, drops a byte order mark.
  let text = raw.toString('utf8');
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  if (!text.length) return {};
  let count = 0;
  let index = -1;
  do {
    if (++count > PARAMETER_LIMIT) return undefined;
    index = text.indexOf('&', index + 1);
  } while (index !== -1);
  return qs.parse(text, {
    allowPrototypes: true,
    arrayLimit: count,
    depth: 0,
    charset: 'utf-8',
    parameterLimit: PARAMETER_LIMIT,
    strictDepth: true,
  });
}
