import { randomBytes } from 'node:crypto';
import { redisAvailable, TEST_REDIS_URL } from '../support/redis.js';
import { startService, tempDatabase, type RunningService } from '../support/service.js';
import { within } from '../support/within.js';

const limits = { RATE_LIMITS: 'on', RATE_LIMIT_SIGN_IN: '3', RATE_LIMIT_TOKEN: '5', DEMO_IDP: 'true' };
const login = (url: string) => fetch(`${url}/auth/demo/login`, { redirect: 'manual' });
const token = (url: string) =>
  fetch(`${url}/auth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ grant_type: 'refresh_token', refresh_token: 'x' }),
  });

describe('rate limits in one instance (memory)', () => {
  let service: RunningService;

  beforeAll(async () => {
    service = await startService(limits);
  });

  afterAll(async () => {
    await service?.close();
  });

  it('answers 429 rate_limited with Retry-After once a client exceeds the sign-in limit', async () => {
    for (let i = 0; i < 3; i++) expect((await login(service.url)).status).toBe(302);
    const limited = await login(service.url);
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(await limited.json()).toEqual({ error: 'rate_limited', error_description: expect.any(String) });
    expect(await (await fetch(`${service.url}/metrics`)).text()).toContain('sls_rate_limited_total{kind="signIn"} 1');
  });

  it('counts the token endpoint apart, and never limits the API guarded by tokens or the JWKS', async () => {
    for (let i = 0; i < 5; i++) expect((await token(service.url)).status).toBe(400);
    expect((await token(service.url)).status).toBe(429);
    for (let i = 0; i < 10; i++) expect((await fetch(`${service.url}/.well-known/jwks.json`)).status).toBe(200);
  });
});

const redisUp = await redisAvailable();

(redisUp ? describe : describe.skip)('rate limits shared by two instances through Redis', () => {
  let a: RunningService;
  let b: RunningService;

  beforeAll(async () => {
    // A generous command timeout: on a busy test machine a stalled event loop must not send a hit to the in-memory
    // fallback (what a Redis timeout does, redis-faults.e2e.ts), which this test would read as a miscount.
    const env = {
      ...limits,
      REDIS_URL: TEST_REDIS_URL,
      REDIS_KEY_PREFIX: `test-${randomBytes(6).toString('hex')}:`,
      REDIS_TIMEOUT_MS: '2000',
    };
    a = await startService(env);
    b = await startService(env, { databaseUrl: `sqlite:${tempDatabase()}`, publicUrl: a.publicUrl });
    // Both connected: an instance counts in its own memory until its Redis connection is up.
    for (const s of [a, b])
      await within(5000, async () => ((await (await fetch(`${s.url}/health/ready`)).json()) as { status: string }).status === 'ok');
  });

  afterAll(async () => {
    await b?.close();
    await a?.close();
  });

  it('counts one client across both instances', async () => {
    expect((await login(a.url)).status).toBe(302);
    expect((await login(b.url)).status).toBe(302);
    expect((await login(a.url)).status).toBe(302);
    expect((await login(b.url)).status).toBe(429);
    expect((await login(a.url)).status).toBe(429);
  });

  it('reports Redis in readiness', async () => {
    const ready = await fetch(`${a.url}/health/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ info: { database: { status: 'up' }, redis: { status: 'up' } } });
  });
});
