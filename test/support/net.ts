import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

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

/** A free port on 127.0.0.1 (for a service whose PUBLIC_URL must be known before it starts). */
export async function freePort(): Promise<number> {
  const { port, close } = await listenLocal();
  await close();
  return port;
}
