import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Writable } from 'node:stream';
import { LoggerModule } from 'nestjs-pino';

const REQUEST_ID = /^[A-Za-z0-9._-]{1,64}$/;

/**
 * Structured JSON logs (nestjs-pino) with a request id (a well-formed incoming X-Request-Id, or a new one, echoed
 * back). Nothing secret is ever written: URLs lose their query string (sign-in callbacks carry codes and state;
 * logins carry returnTo), and no header, cookie or body is logged at all.
 */
export function loggingModule(level: string, stream?: Writable) {
  return LoggerModule.forRoot({
    pinoHttp: [
      {
        level,
        genReqId: (req: IncomingMessage, res: ServerResponse) => {
          const incoming = req.headers['x-request-id'];
          const id = typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : randomUUID();
          res.setHeader('X-Request-Id', id);
          return id;
        },
        serializers: {
          req: (req: { id: string; method: string; url: string }) => ({ id: req.id, method: req.method, path: req.url.split('?')[0] }),
          res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
        },
        customLogLevel: (_req: IncomingMessage, res: ServerResponse, err?: Error) =>
          err || res.statusCode >= 500 ? 'error' : res.statusCode >= 400 ? 'info' : 'debug',
      },
      ...(stream ? [stream] : []),
    ] as never,
  });
}
