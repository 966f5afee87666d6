import type { AddressInfo } from 'node:net';
import { generateKeyPairSync } from 'node:crypto';
import { SignJWT, decodeProtectedHeader } from 'jose';
import { SigningKeysService } from '../../src/tokens/signing-keys.service.js';
import { TestBrowser } from '../../test/support/browser.js';
import { signInAndGetTokens } from '../../test/support/sign-in.js';
import { ManualClock } from '../../test/support/service.js';
import { startWorld, type World } from '../../test/support/world.js';
import { createResourceServer } from './server.js';

/** The example app: signs in through the stand-ins, then calls an API that only knows the service's JWKS. */
describe('example resource server', () => {
  const clock = new ManualClock();
  let world: World;
  let api: ReturnType<typeof createResourceServer>;
  let apiUrl: string;

  beforeAll(async () => {
    world = await startWorld({}, { clock });
    api = createResourceServer({ issuer: world.service.publicUrl, audience: world.service.publicUrl, jwksCacheMaxAgeMs: 0 });
    await new Promise<void>((r) => api.listen(0, '127.0.0.1', r));
    apiUrl = `http://127.0.0.1:${(api.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    api?.closeAllConnections();
    await new Promise((r) => api?.close(r));
    await world?.close();
  });

  const hello = (token: string) => fetch(`${apiUrl}/hello`, { headers: { authorization: `Bearer ${token}` } });

  it('accepts a valid access token', async () => {
    const { tokens, me } = await signInAndGetTokens(new TestBrowser(), world.service.url, 'acme', { login: 'api-user' });
    const res = await hello(tokens.access_token);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ hello: me.id, roles: ['user'], session: expect.any(String) });
  });

  it('refuses a tampered token and one signed by a key the service does not publish', async () => {
    const { tokens } = await signInAndGetTokens(new TestBrowser(), world.service.url, 'acme', { login: 'api-user' });
    const [h, p, s] = tokens.access_token.split('.');
    const payload = JSON.parse(Buffer.from(p, 'base64url').toString());
    const tampered = `${h}.${Buffer.from(JSON.stringify({ ...payload, roles: ['admin'] })).toString('base64url')}.${s}`;
    expect((await hello(tampered)).status).toBe(401);
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const foreign = await new SignJWT(payload)
      .setProtectedHeader({ alg: 'RS256', typ: 'at+jwt', kid: decodeProtectedHeader(tokens.access_token).kid })
      .sign(privateKey);
    expect((await hello(foreign)).status).toBe(401);
    expect((await hello('')).status).toBe(401);
  });

  it('refuses a token whose signing key was rotated out of the JWKS', async () => {
    const { tokens } = await signInAndGetTokens(new TestBrowser(), world.service.url, 'acme', { login: 'api-user' });
    expect((await hello(tokens.access_token)).status).toBe(200);
    const keys = world.service.app.get(SigningKeysService);
    await keys.rotate();
    expect((await hello(tokens.access_token)).status).toBe(200);
    clock.advance((900 + 301) * 1000);
    await keys.rotateIfDue();
    await keys.reload();
    expect((await hello(tokens.access_token)).status).toBe(401);
  });
});
