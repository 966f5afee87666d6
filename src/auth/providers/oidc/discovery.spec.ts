import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { discover, tokenAuthMethod, type OidcMetadata } from './discovery.js';

async function serve(body: unknown): Promise<{ url: string; hits: () => number; close: () => void }> {
  let hits = 0;
  const server = createServer((_req, res) => {
    hits++;
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, hits: () => hits, close: () => server.close() };
}

describe('OIDC discovery', () => {
  it('reads the document of the configured issuer', async () => {
    let url = '';
    const server = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ issuer: url, authorization_endpoint: `${url}/a`, token_endpoint: `${url}/t`, jwks_uri: `${url}/j` }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    await expect(discover('corp', url, { attempts: 1 })).resolves.toMatchObject({ issuer: url, token_endpoint: `${url}/t` });
    server.close();
  });

  it('refuses, without retrying, a document that names another issuer (Discovery §4.3)', async () => {
    const op = await serve({ issuer: 'https://elsewhere.example', authorization_endpoint: 'a', token_endpoint: 't', jwks_uri: 'j' });
    await expect(discover('corp', op.url, { attempts: 3, backoffMs: 1 })).rejects.toThrow(
      /discovery says issuer https:\/\/elsewhere.example/,
    );
    expect(op.hits()).toBe(1);
    op.close();
  });

  it('fails with a message naming the provider and the reason after retrying an unreachable issuer', async () => {
    const gone = await serve({});
    gone.close();
    await expect(discover('corp', gone.url, { attempts: 2, backoffMs: 1, timeoutMs: 500 })).rejects.toThrow(
      new RegExp(`OIDC provider "corp": discovery at ${gone.url}/.well-known/openid-configuration failed after 2 attempts`),
    );
  });

  it('F10: a document streaming 64 MiB and more is refused at once, naming the provider, having read at most a few MiB', async () => {
    const MiB = 1024 * 1024;
    let hits = 0;
    let written = 0;
    let markClosed!: () => void;
    const closed = new Promise<void>((resolve) => (markClosed = resolve));
    // As a hostile or broken provider: a document that starts well, then as fast as it is read, then a byte every 100 ms.
    const server = createServer((_req, res) => {
      hits++;
      const chunk = Buffer.alloc(64 * 1024, 'a');
      const drip = setInterval(() => res.write(' '), 100);
      res.on('close', () => {
        markClosed();
        clearInterval(drip);
      });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"issuer":"');
      const pump = () => {
        while (!res.destroyed && written < 64 * MiB) {
          if (!res.write(chunk, () => (written += chunk.length))) return void res.once('drain', pump);
        }
      };
      pump();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      // Before the fix res.json() read it all until the timeout, then retried: "failed after 3 attempts: … aborted".
      await expect(discover('corp', url, { attempts: 3, backoffMs: 1, timeoutMs: 3000 })).rejects.toThrow(
        new RegExp(`^OIDC provider "corp": discovery at ${url}/.well-known/openid-configuration answered with more than ${MiB} bytes$`),
      );
      expect(hits).toBe(1);
      // The request ended, not only given up on (the server sees the connection close: without it this waits until the
      // test's timeout); what the service's side took stays far below the 64 MiB sent.
      await closed;
      expect(written).toBeLessThan(16 * MiB);
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });

  it('refuses a document without the required endpoints', async () => {
    let url = '';
    const server = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ issuer: url, authorization_endpoint: `${url}/a` }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    await expect(discover('corp', url, { attempts: 1 })).rejects.toThrow(/lacks token_endpoint/);
    server.close();
  });
});

describe('the token endpoint authentication method', () => {
  const metadata = (methods?: unknown): OidcMetadata =>
    ({
      issuer: 'i',
      authorization_endpoint: 'a',
      token_endpoint: 't',
      jwks_uri: 'j',
      token_endpoint_auth_methods_supported: methods,
    }) as OidcMetadata;

  it.each([
    ['absent (Discovery §3 default)', undefined, 'client_secret_basic'],
    ['both listed', ['client_secret_post', 'client_secret_basic'], 'client_secret_basic'],
    ['only basic', ['client_secret_basic', 'private_key_jwt'], 'client_secret_basic'],
    ['only post', ['private_key_jwt', 'client_secret_post'], 'client_secret_post'],
  ])('discovery with %s → %s', (_why, methods, expected) => {
    expect(tokenAuthMethod('corp', undefined, metadata(methods))).toBe(expected);
  });

  it('OIDC_<ID>_TOKEN_AUTH_METHOD wins over discovery', () => {
    expect(tokenAuthMethod('corp', 'client_secret_post', metadata(['client_secret_basic']))).toBe('client_secret_post');
    expect(tokenAuthMethod('corp', 'client_secret_basic', metadata(['client_secret_post']))).toBe('client_secret_basic');
  });

  it('neither offered: a start-up error that says which variable forces one', () => {
    expect(() => tokenAuthMethod('my-op', undefined, metadata(['private_key_jwt', 'tls_client_auth']))).toThrow(
      /accepts neither client_secret_basic nor client_secret_post \(it lists private_key_jwt, tls_client_auth\); set OIDC_MY_OP_TOKEN_AUTH_METHOD/,
    );
  });
});
