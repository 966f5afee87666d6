import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type CookieOptions } from 'express';
import fastify from 'fastify';
import { Cookies } from './cookies.js';

/** The Set-Cookie headers of one real exchange with a server on 127.0.0.1. */
async function setCookies(server: ReturnType<typeof createServer>): Promise<string[]> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
    await res.arrayBuffer();
    return res.headers.getSetCookie();
  } finally {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
}

/** Expires is written from the clock at the call: checked within 2 s of each other, then left out of the comparison. */
function withoutExpires(a: string[], b: string[]): [string[], string[]] {
  const expires = (c: string) => Date.parse(/Expires=([^;]+)/.exec(c)?.[1] ?? 'NaN');
  expect(a).toHaveLength(b.length);
  a.forEach((c, i) => expect(Math.abs(expires(c) - expires(b[i]))).toBeLessThanOrEqual(2000));
  const strip = (list: string[]) => list.map((c) => c.replace(/Expires=[^;]+/, 'Expires=…'));
  return [strip(a), strip(b)];
}

describe('Cookies', () => {
  for (const publicUrl of ['http://127.0.0.1:3000', 'https://login.example.com']) {
    it(`writes the same Set-Cookie headers as Express's res.cookie and res.clearCookie did (${publicUrl})`, async () => {
      const cookies = new Cookies({ publicUrl });
      const name = cookies.name('sls_session');
      const options: CookieOptions = { httpOnly: true, sameSite: 'lax', secure: publicUrl.startsWith('https:'), path: '/' };
      const byExpress = express().get('/', (_req, res) => {
        res.cookie(name, 'sealed.value-1', { ...options, maxAge: 90_500 });
        res.clearCookie('other', options);
        res.send('ok');
      });
      const byUs = express().get('/', (_req, res) => {
        cookies.set(res, name, 'sealed.value-1', 90_500);
        cookies.clear(res, 'other');
        res.send('ok');
      });
      const [expected, actual] = withoutExpires(await setCookies(createServer(byExpress)), await setCookies(createServer(byUs)));
      expect(actual).toEqual(expected);
      expect(actual[0]).toContain('Max-Age=90;');
      expect(actual[0]).toContain('HttpOnly');
      expect(actual[0]).toContain('SameSite=Lax');
      expect(actual[1]).toContain('Expires=…');
      expect(actual[0].includes('Secure')).toBe(publicUrl.startsWith('https:'));
    });
  }

  it('sets them through a Fastify reply too, beside headers Fastify sends itself', async () => {
    const cookies = new Cookies({ publicUrl: 'http://127.0.0.1:3000' });
    const app = fastify();
    app.get('/', async (_req, reply) => {
      cookies.set(reply, 'a', '1', 60_000);
      cookies.clear(reply, 'b');
      reply.header('set-cookie', 'c=3; Path=/');
      return reply.send({ ok: true });
    });
    await app.ready();
    const sent = await setCookies(app.server);
    expect(sent.map((c) => c.split(';')[0]).sort()).toEqual(['a=1', 'b=', 'c=3']);
    expect(sent.find((c) => c.startsWith('a='))).toContain('Max-Age=60; Path=/; Expires=');
  });
});
