import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import helmet from 'helmet';
import { onlyWithBody, precomputedHeaders } from './lean-middleware.js';

/** One real HTTP exchange against an Express app, on 127.0.0.1. */
async function exchange(app: express.Express, init: RequestInit & { path?: string } = {}): Promise<Response> {
  const server = createServer(app);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    return await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}${init.path ?? '/'}`, init);
  } finally {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
}

const headersOf = (res: Response) =>
  Object.fromEntries(
    [...(res.headers as unknown as Iterable<[string, string]>)].filter(([k]) => !['date', 'etag', 'connection', 'keep-alive'].includes(k)),
  );

describe('precomputedHeaders', () => {
  it('answers with exactly the headers helmet sets when it runs per request, for every option set we use', async () => {
    for (const https of [false, true]) {
      const options = {
        referrerPolicy: { policy: 'no-referrer' as const },
        strictTransportSecurity: https,
        contentSecurityPolicy: { directives: { upgradeInsecureRequests: https ? [] : null } },
      };
      const perRequest = express()
        .use(helmet(options))
        .get('/', (_q, s) => void s.json({ ok: true }));
      const replayed = express()
        .use(precomputedHeaders(helmet(options)))
        .get('/', (_q, s) => void s.json({ ok: true }));
      const [a, b] = [await exchange(perRequest), await exchange(replayed)];
      expect(headersOf(b)).toEqual(headersOf(a));
      expect(b.headers.get('referrer-policy')).toBe('no-referrer');
      expect(b.headers.get('content-security-policy')).toContain("default-src 'self'");
    }
  });

  it('refuses a middleware whose output cannot be replayed (one that does not call next at once)', () => {
    expect(() => precomputedHeaders((_q: IncomingMessage, res: ServerResponse) => void res.setHeader('x', '1'))).toThrow(
      /did not call next/,
    );
  });
});

describe('onlyWithBody', () => {
  const app = () =>
    express()
      .use(onlyWithBody(express.json(), (req, _res, next) => next(req.body?.bad ? new Error('refused') : undefined)))
      .use((req, res) => void res.json({ body: req.body ?? null }))
      .use(
        (err: Error, _q: express.Request, res: express.Response, _n: express.NextFunction) =>
          void res.status(400).json({ error: err.message }),
      );

  it('parses and checks a body sent with Content-Length or chunked, and lets a request without one through untouched', async () => {
    const json = { 'content-type': 'application/json' };
    expect(await (await exchange(app(), { method: 'POST', headers: json, body: '{"a":1}' })).json()).toEqual({ body: { a: 1 } });
    const chunked = new ReadableStream({ start: (c) => (c.enqueue(new TextEncoder().encode('{"b":2}')), c.close()) });
    expect(await (await exchange(app(), { method: 'POST', headers: json, body: chunked, duplex: 'half' } as RequestInit)).json()).toEqual({
      body: { b: 2 },
    });
    const refused = await exchange(app(), { method: 'POST', headers: json, body: '{"bad":true}' });
    expect(refused.status).toBe(400);
    expect(await (await exchange(app(), { headers: json })).json()).toEqual({ body: null });
  });
});
