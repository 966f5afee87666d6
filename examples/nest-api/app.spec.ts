import type { INestApplication } from '@nestjs/common';
import { TestBrowser } from '../../test/support/browser.js';
import { signInAndGetTokens } from '../../test/support/sign-in.js';
import { startWorld, type World } from '../../test/support/world.js';
import { createNestApi } from './app.js';

/** The NestJS example: signs in through the stand-ins, then calls an API that uses the consumer kit. */
describe('example NestJS API (consumer kit)', () => {
  let world: World;
  let api: INestApplication;
  let apiUrl: string;

  beforeAll(async () => {
    world = await startWorld({ ADMIN_EMAILS: 'boss@corp.test' });
    world.corp.accounts.set('boss', { email: 'boss@corp.test', email_verified: true, name: 'Boss' });
    api = await createNestApi({ issuer: world.service.publicUrl, audience: world.service.publicUrl, revocations: true });
    await api.listen(0, '127.0.0.1');
    apiUrl = await api.getUrl();
  });

  afterAll(async () => {
    await api?.close();
    await world?.close();
  });

  const get = async (path: string, token?: string) => {
    const res = await fetch(`${apiUrl}${path}`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
    return { status: res.status, body: (await res.json()) as Record<string, unknown>, challenge: res.headers.get('www-authenticate') };
  };

  it('serves @Public() routes without a token and refuses the rest with 401 JSON', async () => {
    expect((await get('/health')).status).toBe(200);
    const refused = await get('/profile');
    expect(refused).toEqual({
      status: 401,
      body: { error: 'invalid_token', error_description: expect.any(String) },
      challenge: expect.stringMatching(/^Bearer /),
    });
  });

  it('accepts a signed-in user, gives @CurrentUser(), and enforces @Roles() with 403', async () => {
    const user = await signInAndGetTokens(new TestBrowser(), world.service.url, 'acme', { login: 'nest-user' });
    expect(await get('/profile', user.tokens.access_token)).toMatchObject({ status: 200, body: { sub: user.me.id, roles: ['user'] } });
    expect(await get('/reports', user.tokens.access_token)).toMatchObject({ status: 403, body: { error: 'insufficient_scope' } });
    const admin = await signInAndGetTokens(new TestBrowser(), world.service.url, 'corp', { login: 'boss' });
    expect(await get('/reports', admin.tokens.access_token)).toMatchObject({ status: 200, body: { for: admin.me.id } });
  });
});
