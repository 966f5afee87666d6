import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { isFormBody } from './media-type.js';

/** What Express's `req.is('application/x-www-form-urlencoded')` and isFormBody say of one real request. */
async function both(headers: Record<string, string>, body?: string): Promise<[boolean, boolean]> {
  let seen: [boolean, boolean] = [false, false];
  const app = express().post('/', (req, res) => {
    seen = [Boolean(req.is('application/x-www-form-urlencoded')), isFormBody(req as IncomingMessage)];
    res.end();
  });
  const server = createServer(app);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    await (await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`, { method: 'POST', headers, body })).arrayBuffer();
  } finally {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
  return seen;
}

describe('isFormBody', () => {
  it.each([
    [{ 'content-type': 'application/x-www-form-urlencoded' }, 'a=1', true],
    [{ 'content-type': 'Application/X-WWW-Form-URLEncoded; charset=UTF-8' }, 'a=1', true],
    // fetch sends Content-Length: 0, which counts as framing a body.
    [{ 'content-type': 'application/x-www-form-urlencoded' }, undefined, true],
    [{ 'content-type': 'application/json' }, '{}', false],
    [{ 'content-type': 'text/plain' }, 'a=1', false],
    [{}, 'a=1', false],
  ])('answers as Express did for %j with body %j', async (headers, body, expected) => {
    const [byExpress, ours] = await both(headers as Record<string, string>, body);
    expect(ours).toBe(byExpress);
    expect(ours).toBe(expected);
  });
});
