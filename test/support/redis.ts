import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort } from './net.js';

/** Redis for the tests that need it: TEST_REDIS_URL (default the project machines' server); skip or fail as for PostgreSQL. */
export const TEST_REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

export async function redisAvailable(): Promise<boolean> {
  const client = new Redis(TEST_REDIS_URL, { lazyConnect: true, connectTimeout: 2000, maxRetriesPerRequest: 0, retryStrategy: () => null });
  client.on('error', () => undefined);
  try {
    await client.connect();
    return (await client.ping()) === 'PONG';
  } catch (e) {
    if (process.env.REQUIRE_SERVICES === '1')
      throw new Error(`REQUIRE_SERVICES=1 but Redis at ${TEST_REDIS_URL} is not reachable: ${(e as Error).message}`);
    console.warn(`Redis tests SKIPPED: no server at ${TEST_REDIS_URL} (${(e as Error).message}). Set TEST_REDIS_URL to run them.`);
    return false;
  } finally {
    client.disconnect();
  }
}

/**
 * A stand-in Redis that speaks just enough RESP for the service (the connection handshake, PING, EVAL, PTTL) and can
 * be frozen: it then keeps accepting connections and reading commands but answers nothing, like a `kill -STOP`ped
 * server with its connections open. Thawed, it answers what it was sent, in order, as a resumed server would.
 * `answerHandshake: false` makes a server that accepts and never writes a byte at all.
 */
export async function startFakeRedis(opts: { answerHandshake?: boolean } = {}) {
  const sockets = new Set<Socket>();
  const commands: string[] = [];
  let connections = 0;
  let frozen = opts.answerHandshake === false;
  const held: { socket: Socket; reply: string }[] = [];

  const server = createServer((socket) => {
    connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    let buffer = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      for (let parsed = parseCommand(buffer); parsed; parsed = parseCommand(buffer)) {
        buffer = buffer.subarray(parsed.length);
        const name = parsed.args[0]?.toUpperCase() ?? '';
        commands.push(name);
        const reply = replyTo(name);
        if (frozen) held.push({ socket, reply });
        else socket.write(reply);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `redis://127.0.0.1:${port}`,
    /** Every command received, by name, frozen or not. */
    commands,
    get connections() {
      return connections;
    },
    freeze() {
      frozen = true;
    },
    thaw() {
      frozen = false;
      for (const { socket, reply } of held.splice(0)) if (!socket.destroyed) socket.write(reply);
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

function replyTo(name: string): string {
  switch (name) {
    case 'PING':
      return '+PONG\r\n';
    case 'INFO': {
      const info = '# Server\r\nredis_version:7.0.0\r\n# Persistence\r\nloading:0\r\n';
      return `$${Buffer.byteLength(info)}\r\n${info}\r\n`;
    }
    case 'EVAL': // the rate limiter's script: not blocked
      return '*2\r\n:0\r\n:0\r\n';
    case 'PTTL': // no such key
      return ':-2\r\n';
    case 'CLIENT':
    case 'SELECT':
    case 'QUIT':
      return '+OK\r\n';
    default:
      return `-ERR unknown command '${name}'\r\n`;
  }
}

/** One RESP array of bulk strings (what clients send) from the start of `buffer`, or undefined if incomplete. */
function parseCommand(buffer: Buffer): { args: string[]; length: number } | undefined {
  let at = 0;
  const line = () => {
    const end = buffer.indexOf('\r\n', at);
    if (end < 0) return undefined;
    const text = buffer.subarray(at, end).toString();
    at = end + 2;
    return text;
  };
  const header = line();
  if (header === undefined) return undefined;
  if (!header.startsWith('*')) return { args: header.split(' '), length: at }; // inline command
  const args: string[] = [];
  for (let n = Number(header.slice(1)); n > 0; n--) {
    const size = line();
    if (size === undefined) return undefined;
    const len = Number(size.slice(1));
    if (buffer.length < at + len + 2) return undefined;
    args.push(buffer.subarray(at, at + len).toString());
    at += len + 2;
  }
  return { args, length: at };
}

/** Whether `redis-server` can be started here (for a private one a test may SIGSTOP); skip or fail as for the servers. */
export function redisServerInstalled(): boolean {
  const found = spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;
  if (found) return true;
  if (process.env.REQUIRE_SERVICES === '1') throw new Error('REQUIRE_SERVICES=1 but redis-server is not installed');
  console.warn('Tests with a private redis-server SKIPPED: redis-server is not installed (Debian: redis-server).');
  return false;
}

/** A redis-server of the test's own on a free port (never the shared one: tests stop and resume it). */
export async function startPrivateRedis() {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'sls-redis-'));
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], {
    stdio: 'ignore',
  });
  child.on('error', () => undefined); // not installed: reported by redisServerInstalled(), and by the wait below
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const url = `redis://127.0.0.1:${port}`;
  const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  probe.on('error', () => undefined);
  try {
    for (let i = 0; ; i++) {
      if (
        await probe.connect().then(
          () => probe.ping().then((p) => p === 'PONG'),
          () => false,
        )
      )
        break;
      if (i === 100 || child.exitCode !== null) throw new Error('private redis-server did not start');
      await new Promise((r) => setTimeout(r, 50));
    }
  } finally {
    probe.disconnect();
  }
  let stopped = false;
  return {
    url,
    /** `kill -STOP`: connections stay open, nothing is answered. */
    stop() {
      stopped = child.kill('SIGSTOP');
    },
    resume() {
      if (stopped) child.kill('SIGCONT');
      stopped = false;
    },
    async close() {
      this.resume();
      child.kill('SIGKILL');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
