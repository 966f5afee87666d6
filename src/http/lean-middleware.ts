import type { IncomingMessage, ServerResponse } from 'node:http';
import type { NextFunction, Request, RequestHandler, Response } from 'express';

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
