import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import express from 'express';
import fc from 'fast-check';
import helmet from 'helmet';
import { refuseHostileBodies } from '../common/hostile-input.js';
import { keepRawBody, onlyWithBody, plainFormBody, precomputedHeaders } from './lean-middleware.js';

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

describe('plainFormBody', () => {
  const LIMIT = 16 * 1024;
  const FORM = 'application/x-www-form-urlencoded';
  const bodyParser = onlyWithBody(express.urlencoded({ limit: LIMIT, extended: false, verify: keepRawBody }), refuseHostileBodies);
  let fallbacks = 0;
  // The same body through our reader (route /ours) and through body-parser alone (route /theirs), each answering what
  // the handler would see: the parsed body and the raw bytes, or the error's status and message.
  const app = express()
    .post(
      '/ours',
      plainFormBody({
        limit: LIMIT,
        fallback: (req, res, next) => {
          fallbacks++;
          bodyParser(req, res, next);
        },
        after: refuseHostileBodies,
      }),
    )
    .post('/theirs', bodyParser)
    .use((req, res) => {
      const raw = (req as express.Request & { rawBody?: Buffer }).rawBody;
      res.json({
        body: req.body ?? null,
        proto: req.body ? Object.getPrototypeOf(req.body) === Object.prototype : null,
        raw: raw?.toString('base64') ?? null,
      });
    })
    .use(
      (
        err: Error & { status?: number; getStatus?: () => number },
        _q: express.Request,
        res: express.Response,
        _n: express.NextFunction,
      ) => {
        res.status(err.status ?? err.getStatus?.() ?? 500).json({ error: err.message });
      },
    );
  let url: string;
  let server: ReturnType<typeof createServer>;

  beforeAll(async () => {
    server = createServer(app);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  async function both(body: string | Uint8Array, headers: Record<string, string> = { 'content-type': FORM }) {
    const send = async (path: string) => {
      const res = await fetch(`${url}${path}`, { method: 'POST', headers, body: typeof body === 'string' ? body : new Uint8Array(body) });
      return { status: res.status, body: (await res.json()) as unknown };
    };
    const before = fallbacks;
    const ours = await send('/ours');
    return { ours, theirs: await send('/theirs'), fellBack: fallbacks > before };
  }

  it.each([
    ['an RFC 6749 refresh request', 'grant_type=refresh_token&refresh_token=abc.def-ghi_jkl'],
    ['plus signs and percent-escapes', 'a=b+c%20d&e=%E2%82%AC&%67rant=1'],
    ['an escape that is not one', 'a=%zz&b=%&c=%E2%82'],
    ['bytes that are not UTF-8', Buffer.from([0x61, 0x3d, 0xff, 0xfe, 0x26, 0x62, 0x3d, 0xc3])],
    ['a byte order mark', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('grant_type=x')])],
    ['a repeated key', 'a=1&a=2&a=3'],
    ['brackets, which stay part of the key', 'a[b]=1&c[]=2&d[0]=3&e[f][g]=4'],
    ['a __proto__ key (refused)', 'grant_type=x&__proto__=y'],
    ['a constructor key (refused)', 'constructor[prototype][x]=1'],
    ['empty keys and values', '&=&a&=b&c=&&'],
    ['exactly 1,000 parameters', Array.from({ length: 1000 }, (_, i) => `k${i}=v`).join('&')],
    ['1,001 parameters', Array.from({ length: 1001 }, (_, i) => `k${i}=v`).join('&')],
    ['a body of exactly the limit', `a=${'x'.repeat(LIMIT - 2)}`],
  ])('reads %s as body-parser does, without it', async (_name, body) => {
    const { ours, theirs, fellBack } = await both(body);
    expect(fellBack).toBe(false);
    expect(ours).toEqual(theirs);
  });

  it.each([
    ['a body over the limit', `a=${'x'.repeat(LIMIT)}`, { 'content-type': FORM }],
    ['another charset', 'a=1', { 'content-type': `${FORM}; charset=iso-8859-1` }],
    ['a charset body-parser refuses', 'a=1', { 'content-type': `${FORM}; charset=utf-7` }],
    ['a parameter besides the charset', 'a=1', { 'content-type': `${FORM}; charset=utf-8; x=y` }],
    ['JSON', '{"a":1}', { 'content-type': 'application/json' }],
    ['a gzip body', 'a=1', { 'content-type': FORM, 'content-encoding': 'gzip' }],
  ])('leaves %s to body-parser', async (_name, body, headers) => {
    const { ours, theirs, fellBack } = await both(body, headers);
    expect(fellBack).toBe(true);
    expect(ours).toEqual(theirs);
  });

  it('reads a chunked form through body-parser (no Content-Length)', async () => {
    const before = fallbacks;
    const chunked = new ReadableStream({ start: (c) => (c.enqueue(new TextEncoder().encode('a=1')), c.close()) });
    const res = await fetch(`${url}/ours`, {
      method: 'POST',
      headers: { 'content-type': FORM },
      body: chunked,
      duplex: 'half',
    } as RequestInit);
    expect(await res.json()).toMatchObject({ body: { a: '1' } });
    expect(fallbacks).toBe(before + 1);
  });

  it('survives a client that sends part of its body and goes away, and keeps serving', async () => {
    const { port } = server.address() as AddressInfo;
    const socket = connect(port, '127.0.0.1');
    await new Promise((r) => socket.once('connect', r));
    const answered = new Promise<string>((r) => {
      let got = '';
      socket.on('data', (d) => (got += d.toString()));
      socket.once('close', () => r(got));
    });
    // The request's handlers run synchronously on 'request': once it fired, our reader is waiting for the body.
    const reading = new Promise((r) => server.once('request', () => setImmediate(r)));
    socket.write(`POST /ours HTTP/1.1\r\nHost: x\r\nContent-Type: ${FORM}\r\nContent-Length: 100\r\n\r\ngrant_type`);
    await reading;
    socket.destroy();
    expect(await answered).toBe('');
    const { ours } = await both('a=1');
    expect(ours).toMatchObject({ status: 200, body: { body: { a: '1' } } });
  });

  it('reads any form body exactly as body-parser does (property)', async () => {
    const piece = fc.oneof(
      fc.constantFrom(
        'grant_type',
        'refresh_token',
        '__proto__',
        'constructor',
        'a[b]',
        '[]',
        '%',
        '%2',
        '%25',
        '%E2%82%AC',
        '%C3',
        '+',
        '=',
        '&',
        ';',
        '\uFEFF',
        '\u0000',
        'é',
        '😀',
      ),
      fc.string({ maxLength: 6 }),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.array(piece, { maxLength: 30 }),
        fc.constantFrom(FORM, `${FORM}; charset=utf-8`, 'APPLICATION/X-WWW-FORM-URLENCODED'),
        async (pieces, type) => {
          const body = pieces.join('');
          if (!body.length) return;
          const { ours, theirs, fellBack } = await both(body, { 'content-type': type });
          expect(fellBack).toBe(false);
          expect(ours).toEqual(theirs);
        },
      ),
      { numRuns: 300 },
    );
  });
});
