import { TestBrowser } from '../support/browser.js';
import { redisServerInstalled, startFakeRedis, startPrivateRedis } from '../support/redis.js';
import { startService, type RunningService } from '../support/service.js';
import { signInAndGetTokens } from '../support/sign-in.js';
import { within } from '../support/within.js';

/**
 * Issue 19, items 2 and 4: Redis only shares the rate-limit counters, so when it stops answering the service goes on
 * without it (rate limits fail open) and stays ready. Every Redis command has a short timeout, and after one fails
 * Redis is not asked again until REDIS_RETRY_MS has passed.
 */
const env = (redisUrl: string) => ({ DEMO_IDP: 'true', RATE_LIMITS: 'on', REDIS_URL: redisUrl });
const RETRY_MS = 3000; // REDIS_RETRY_MS's default

/** A request that gives up after 3 s, so that a hang fails the test at once; its status and how long it took. */
async function timed(url: string, init: RequestInit = {}): Promise<{ status: number; ms: number; body: string }> {
  const start = Date.now();
  const res = await fetch(url, { redirect: 'manual', signal: AbortSignal.timeout(3000), ...init });
  const body = await res.text();
  return { status: res.status, ms: Date.now() - start, body };
}
const signInStart = (s: RunningService) => timed(`${s.url}/auth/demo/login`);
const ready = (s: RunningService) => timed(`${s.url}/health/ready`);
const refresh = (s: RunningService, refreshToken: string) =>
  timed(`${s.url}/auth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ grant_type: 'refresh_token', refresh_token: refreshToken }),
  });

/** Until the service's connection is up (it starts without waiting for Redis). */
const redisInUse = (s: RunningService) =>
  within(5000, async () => (JSON.parse((await ready(s)).body) as { details: { redis: { status: string } } }).details.redis.status === 'up');

describe('a Redis that stops answering (a stand-in that reads every command and replies to none)', () => {
  let fake: Awaited<ReturnType<typeof startFakeRedis>>;
  let service: RunningService;
  let refreshToken: string;

  beforeAll(async () => {
    fake = await startFakeRedis();
    service = await startService(env(fake.url));
    await redisInUse(service);
    ({
      tokens: { refresh_token: refreshToken },
    } = await signInAndGetTokens(new TestBrowser(), service.url, 'demo', { login: 'redis-fault' }));
  });

  afterAll(async () => {
    await service?.close();
    await fake?.close();
  });

  afterEach(() => {
    expect(service.serverErrors).toEqual([]);
  });

  it('answers token refreshes, sign-in starts and readiness within a second, as without Redis', async () => {
    const evals = fake.commands.filter((c) => c === 'EVAL').length;
    expect((await signInStart(service)).status).toBe(302);
    expect(fake.commands.filter((c) => c === 'EVAL').length).toBe(evals + 1); // Redis is in use

    fake.freeze();
    const refreshed = await refresh(service, refreshToken);
    expect([refreshed.status, refreshed.ms]).toEqual([200, expect.any(Number)]);
    expect(refreshed.ms).toBeLessThan(1000);
    refreshToken = (JSON.parse(refreshed.body) as { refresh_token: string }).refresh_token;
    const start = await signInStart(service);
    expect(start.status).toBe(302);
    expect(start.ms).toBeLessThan(1000);
    const readiness = await ready(service);
    expect(readiness.status).toBe(200);
    expect(readiness.ms).toBeLessThan(1000);
    expect(JSON.parse(readiness.body)).toMatchObject({ details: { database: { status: 'up' }, redis: { status: 'degraded' } } });
  });

  it('after a timeout stops asking Redis, and asks once again after REDIS_RETRY_MS', async () => {
    const commands = fake.commands.length;
    const connections = fake.connections;
    const started = Date.now();
    const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 4 ? signInStart(service) : ready(service))));
    expect(answers.map((a) => a.status).sort()).toEqual([...Array(5).fill(200), ...Array(15).fill(302)]);
    expect(Date.now() - started).toBeLessThan(1000); // none of them waited for a timeout
    expect(fake.commands.length).toBe(commands);
    expect(fake.connections).toBe(connections);

    // After the retry interval one request asks (and waits its timeout); the others still do not.
    await new Promise((r) => setTimeout(r, RETRY_MS + 200));
    const retried = await Promise.all(Array.from({ length: 5 }, () => signInStart(service)));
    expect(retried.map((a) => a.status)).toEqual(Array(5).fill(302));
    for (const a of retried) expect(a.ms).toBeLessThan(1000);
    expect(fake.commands.slice(commands)).toEqual(['EVAL']);
    expect(fake.connections).toBe(connections);
  });

  it('uses Redis again once it answers', async () => {
    fake.thaw();
    await within(RETRY_MS + 2000, async () => {
      const evals = fake.commands.filter((c) => c === 'EVAL').length;
      return (await signInStart(service)).status === 302 && fake.commands.filter((c) => c === 'EVAL').length === evals + 1;
    });
    const readiness = await ready(service);
    expect(JSON.parse(readiness.body)).toMatchObject({ status: 'ok', details: { redis: { status: 'up' } } });
    // Every request counts in Redis again.
    const evals = fake.commands.filter((c) => c === 'EVAL').length;
    for (let i = 0; i < 3; i++) expect((await signInStart(service)).status).toBe(302);
    expect(fake.commands.filter((c) => c === 'EVAL').length).toBe(evals + 3);
  });
});

describe('a server that accepts connections and never writes a byte', () => {
  let fake: Awaited<ReturnType<typeof startFakeRedis>>;
  let service: RunningService;

  beforeAll(async () => {
    fake = await startFakeRedis({ answerHandshake: false });
    service = await startService(env(fake.url));
  });

  afterAll(async () => {
    await service?.close();
    await fake?.close();
  });

  it('signs in and is ready within a second, reporting Redis as degraded', async () => {
    for (let i = 0; i < 3; i++) {
      const start = await signInStart(service);
      expect(start.status).toBe(302);
      expect(start.ms).toBeLessThan(1000);
      const readiness = await ready(service);
      expect(readiness.status).toBe(200);
      expect(readiness.ms).toBeLessThan(1000);
      expect(JSON.parse(readiness.body)).toMatchObject({ status: 'degraded', details: { redis: { status: 'degraded' } } });
    }
    expect(service.serverErrors).toEqual([]);
  });
});

describe('Redis not running at all (connection refused)', () => {
  let service: RunningService;

  beforeAll(async () => {
    service = await startService({ ...env('redis://127.0.0.1:1'), RATE_LIMIT_SIGN_IN: '5' });
  });

  afterAll(async () => {
    await service?.close();
  });

  it('is ready (200), with Redis reported in the details; the database alone decides readiness', async () => {
    const readiness = await ready(service);
    expect(readiness.status).toBe(200);
    expect(JSON.parse(readiness.body)).toMatchObject({
      status: 'degraded',
      info: { database: { status: 'up' }, redis: { status: 'degraded', message: expect.stringMatching(/^not connected/) } },
    });
    expect((await signInStart(service)).status).toBe(302);
    expect((await timed(`${service.url}/health`)).status).toBe(200);
  });

  it("still limits, counting in this instance's memory instead of failing open to no limit at all", async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) statuses.push((await signInStart(service)).status);
    // One start was spent by the test above: the limit of 5 holds on this instance.
    expect(statuses).toEqual([302, 302, 302, 302, 429, 429]);
  });
});

(redisServerInstalled() ? describe : describe.skip)('a private redis-server stopped with kill -STOP, then resumed', () => {
  let redis: Awaited<ReturnType<typeof startPrivateRedis>>;
  let service: RunningService;
  let refreshToken: string;

  beforeAll(async () => {
    redis = await startPrivateRedis();
    service = await startService(env(redis.url));
    await redisInUse(service);
    ({
      tokens: { refresh_token: refreshToken },
    } = await signInAndGetTokens(new TestBrowser(), service.url, 'demo', { login: 'redis-stopped' }));
  });

  afterAll(async () => {
    await service?.close();
    await redis?.close();
  });

  afterEach(() => {
    expect(service.serverErrors).toEqual([]);
  });

  it('answers within a second while it is stopped, and uses it again once it is resumed', async () => {
    expect(JSON.parse((await ready(service)).body)).toMatchObject({ status: 'ok', details: { redis: { status: 'up' } } });
    redis.stop();
    try {
      const refreshed = await refresh(service, refreshToken);
      expect(refreshed.status).toBe(200);
      expect(refreshed.ms).toBeLessThan(1000);
      for (const answer of [await signInStart(service), await ready(service)]) {
        expect(answer.status).toBeLessThan(400);
        expect(answer.ms).toBeLessThan(1000);
      }
      expect(JSON.parse((await ready(service)).body)).toMatchObject({ status: 'degraded', details: { redis: { status: 'degraded' } } });
    } finally {
      redis.resume();
    }
    await within(RETRY_MS + 2000, async () => JSON.parse((await ready(service)).body).details.redis.status === 'up');
    expect((await signInStart(service)).status).toBe(302);
  });
});
