import { listenLocal } from './net.js';

export interface DroppedAnswer {
  status: number;
  body: Record<string, unknown>;
}

/**
 * An HTTP proxy in front of the service that can lose answers. Armed with `dropNext()`, it forwards the next request,
 * waits for the service's whole answer (so whatever that request changed has committed), then destroys the client's
 * connection without writing a byte of the answer: what a client sees when an instance is killed, or the network
 * stalls, after the commit. The lost answers are kept (`dropped`) for tests that present what the client never saw.
 */
export async function startAnswerDroppingProxy(target: string) {
  const dropped: DroppedAnswer[] = [];
  let armed = 0;
  const net = await listenLocal(async (req, res) => {
    try {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const headers: Record<string, string> = {};
      for (const name of ['content-type', 'authorization', 'user-agent']) {
        const v = req.headers[name];
        if (typeof v === 'string') headers[name] = v;
      }
      const upstream = await fetch(`${target}${req.url}`, {
        method: req.method,
        headers,
        body: chunks.length ? Buffer.concat(chunks) : undefined,
      });
      const text = await upstream.text();
      if (armed > 0) {
        armed--;
        dropped.push({ status: upstream.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} });
        req.socket.destroy();
        return;
      }
      res.writeHead(upstream.status, { 'content-type': upstream.headers.get('content-type') ?? 'application/json' });
      res.end(text);
    } catch {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    }
  });
  return {
    url: net.url,
    /** Loses the answers of the next `n` requests. */
    dropNext(n = 1) {
      armed += n;
    },
    dropped,
    close: net.close,
  };
}
