import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { randomInt } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer as createNetServer, type AddressInfo } from 'node:net';

/** An HTTP server on 127.0.0.1 and a random port; the handler can be set after the URL is known. */
export async function listenLocal(handler?: (req: IncomingMessage, res: ServerResponse) => void): Promise<{
  server: Server;
  url: string;
  port: number;
  setHandler: (h: (req: IncomingMessage, res: ServerResponse) => void) => void;
  close: () => Promise<void>;
}> {
  let current = handler;
  const server = createServer((req, res) => {
    if (!current) {
      res.statusCode = 503;
      res.end();
      return;
    }
    current(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    server,
    port,
    url: `http://127.0.0.1:${port}`,
    setHandler: (h) => (current = h),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * A free port on 127.0.0.1 for a server whose URL must be known before it starts (a service's PUBLIC_URL, a redirect
 * URI registered at a stand-in). It is chosen below the kernel's ephemeral range (ip_local_port_range), because a
 * port from `listen(0)` is closed again before its owner listens on it: in that gap the kernel may hand the same
 * ephemeral port to another stand-in's `listen(0)` or to an outgoing connection, and the service's listen fails with
 * EADDRINUSE (CI, 2026-12-01). Below that range only another caller of this function can take it: each process
 * walks its own random start, and a probe skips ports something already holds.
 */
export async function freePort(): Promise<number> {
  for (let tries = 0; tries < 200; tries++) {
    const port = nextCandidate();
    if (await canListen(port)) return port;
  }
  throw new Error('no free port below the ephemeral range');
}

const [LOW, HIGH] = ((): [number, number] => {
  try {
    const ephemeralStart = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    if (ephemeralStart > 12_000) return [10_000, ephemeralStart];
  } catch {
    // Not Linux: the default range of Linux, which other systems' ephemeral ranges (49152+) stay above too.
  }
  return [10_000, 32_768];
})();
let cursor = LOW + randomInt(HIGH - LOW);

function nextCandidate(): number {
  cursor = cursor + 1 >= HIGH ? LOW : cursor + 1;
  return cursor;
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createNetServer();
    probe.once('error', () => resolve(false));
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)));
  });
}
