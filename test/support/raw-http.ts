import { connect } from 'node:net';

export interface RawAnswer {
  status: number;
  /** Header names in lower case; a repeated header's values joined with ", ". */
  headers: Record<string, string>;
  /** Every Set-Cookie line, in order. */
  setCookies: string[];
  body: string;
}

/**
 * Writes `request` as is (each character one byte, latin1, so a body can carry any bytes; `HOST` replaced by the
 * service's host) on a fresh connection to `base`, and reads the one answer until the server closes or `waitMs` pass.
 */
export async function sendRaw(base: string, request: string, waitMs = 2000): Promise<RawAnswer> {
  const { host, port } = new URL(base);
  const socket = connect(Number(port), '127.0.0.1');
  const chunks: Buffer[] = [];
  socket.on('data', (c: Buffer) => chunks.push(c));
  socket.on('error', () => undefined);
  await new Promise((r) => socket.once('connect', r));
  socket.write(Buffer.from(request.replace(/HOST/g, host), 'latin1'));
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([new Promise((r) => socket.once('close', r)), new Promise((r) => (timer = setTimeout(r, waitMs)))]).finally(() =>
    clearTimeout(timer),
  );
  socket.destroy();
  const text = Buffer.concat(chunks).toString('latin1');
  const [head, ...rest] = text.split('\r\n\r\n');
  const [statusLine, ...lines] = head.split('\r\n');
  const headers: Record<string, string> = {};
  const setCookies: string[] = [];
  for (const line of lines) {
    const i = line.indexOf(':');
    const name = line.slice(0, i).trim().toLowerCase();
    const value = line.slice(i + 1).trim();
    if (name === 'set-cookie') setCookies.push(value);
    headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
  }
  return { status: Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1] ?? 0), headers, setCookies, body: rest.join('\r\n\r\n') };
}
