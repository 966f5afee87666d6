import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { TestBrowser } from '../../test/support/browser.js';
import { signInAndGetTokens } from '../../test/support/sign-in.js';
import { within } from '../../test/support/within.js';
import { startWorld, type World } from '../../test/support/world.js';
import { createExpressApi } from './app.js';

/** The Express example: signs in through the stand-ins, then calls an API that uses the consumer kit's middleware. */
describe('example Express API (consumer kit)', () => {
  let world: World;
  let server: Server;
  let apiUrl: string;
  let close: () => void;

  beforeAll(async () => {
    world = await startWorld({ ADMIN_EMAILS: 'boss@corp.test' });
    world.corp.accounts.set('boss', { email: 'boss@corp.test', email_verified: true, name: 'Boss' });
    const { app, verifier } = createExpressApi({ issuer: world.service.publicUrl, audience: world.service.publicUrl, revocations: true });
    close = () => verifier.close();
    server = await new Promise<Server>((resolve) => {
      const s = app.listen(0, '127.0.0.1', () => resolve(s));
    });
    apiUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    close?.();
    server?.closeAllConnections();
    await new Promise((r) => server?.close(r));
    await world?.close();
  });

  const get = async (path: string, token?: string) => {
    const res = await fetch(`${apiUrl}${path}`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };

  it('accepts a signed-in user, refuses a missing token (401) and a missing role (403), and lets an admin in', async () => {
    expect((await get('/health')).status).toBe(200);
    expect(await get('/profile')).toMatchObject({ status: 401, body: { error: 'invalid_token' } });
    const user = await signInAndGetTokens(new TestBrowser(), world.service.url, 'google', { login: 'express-user' });
    expect(await get('/profile', user.tokens.access_token)).toMatchObject({ status: 200, body: { sub: user.me.id } });
    expect(await get('/reports', user.tokens.access_token)).toMatchObject({ status: 403, body: { error: 'insufficient_scope' } });
    const admin = await signInAndGetTokens(new TestBrowser(), world.service.url, 'corp', { login: 'boss' });
    expect(await get('/reports', admin.tokens.access_token)).toMatchObject({ status: 200, body: { for: admin.me.id } });
  });

  it('refuses the token once the user signs out (revocation feed), within the service’s own bound', async () => {
    const user = await signInAndGetTokens(new TestBrowser(), world.service.url, 'facebook', { login: 'leaver' });
    expect((await get('/profile', user.tokens.access_token)).status).toBe(200);
    await fetch(`${world.service.url}/auth/logout`, { method: 'POST', headers: { authorization: `Bearer ${user.tokens.access_token}` } });
    await within(1000, async () => (await get('/profile', user.tokens.access_token)).status === 401);
  });
});
