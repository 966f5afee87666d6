import { Redis } from 'ioredis';

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
