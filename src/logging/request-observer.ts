import { randomUUID } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import type { Logger as Pino } from 'pino';
import type { MetricsService } from '../metrics/metrics.service.js';
import { RESPONSE_ERROR, RESPONSE_OUTAGE, type ResponseOutage } from '../http/domain-error.filter.js';
import { LogThrottle } from './log-throttle.js';

const REQUEST_ID = /^[A-Za-z0-9._-]{1,64}$/;

/**
 * One hook per request for everything observed about it: a request id (a well-formed incoming X-Request-Id, or a new
 * one, echoed back), then, when the response is finished, the latency histogram (by route pattern, so ids and codes
 * never become label values) and one JSON log line. Nothing secret is written: the path loses its query string
 * (callbacks carry codes and state), and no header, cookie or body is logged.
 *
 * This replaces pino-http + a metrics middleware: those cost a child logger, several listeners and a label hash per
 * request, a fifth of a trivial request's CPU (BENCHMARKS.md).
 */
export function observeRequests(log: Pino, metrics: MetricsService) {
  // During an outage every request fails alike: the first is a warning with its request and cause (no stack: it is
  // not a bug), then one line per interval with how many more; each request's own line is at debug, as a success's.
  const outages = new LogThrottle((message, fields, repeated) => log.warn(repeated ? { repeated } : fields, message));
  return (req: Request, res: Response, next: NextFunction): void => {
    const start = process.hrtime.bigint();
    const incoming = req.headers['x-request-id'];
    const id = typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : randomUUID();
    res.setHeader('X-Request-Id', id);
    res.once('close', () => {
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      const status = res.writableFinished ? res.statusCode : 499;
      const route = req.route?.path ? `${req.baseUrl}${String(req.route.path)}` : 'unmatched';
      metrics.observeRequest(req.method, route, status, seconds);
      const observed = res as Response & { [RESPONSE_ERROR]?: unknown; [RESPONSE_OUTAGE]?: ResponseOutage };
      const err = observed[RESPONSE_ERROR];
      const outage = observed[RESPONSE_OUTAGE];
      const path = req.originalUrl.split('?')[0];
      let cause: { type: string; message: string } | undefined;
      if (outage) {
        // Type and message only: an outage is not a bug, a stack says nothing about it.
        const { type, message } = describeError(outage.cause);
        cause = { type, message };
        outages.note(outage.code, `${outage.code}: ${message}`, {
          req: { id, method: req.method, path },
          res: { statusCode: status },
          err: cause,
        });
      }
      const level = err || (status >= 500 && !outage) ? 'error' : outage ? 'debug' : status >= 400 ? 'info' : 'debug';
      if (!log.isLevelEnabled(level)) return;
      log[level](
        {
          req: { id, method: req.method, path },
          res: { statusCode: status },
          responseTime: Math.round(seconds * 1000),
          ...(err ? { err: describeError(err) } : cause ? { err: cause } : {}),
        },
        status === 499 ? 'request aborted' : err || outage ? 'request errored' : 'request completed',
      );
    });
    next();
  };
}

/** Name, message and stack only: a driver error's other fields (its query parameters) stay out of the logs. */
function describeError(err: unknown): { type: string; message: string; stack?: string } {
  return err instanceof Error ? { type: err.name, message: err.message, stack: err.stack } : { type: typeof err, message: String(err) };
}
