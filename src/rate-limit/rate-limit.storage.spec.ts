import { jest } from '@jest/globals';
import { MemoryRateLimitStorage } from './rate-limit.storage.js';

const MINUTE = 60_000;

describe('MemoryRateLimitStorage past 100,000 live keys', () => {
  beforeEach(() => jest.useFakeTimers({ now: 1_000_000_000 }));
  afterEach(() => jest.useRealTimers());

  it('sweeps expired keys at most once a second, not on every hit, and keeps blocks that have not ended', async () => {
    const storage = new MemoryRateLimitStorage();
    const sweep = jest.spyOn(storage as unknown as { sweep(now: number): void }, 'sweep');
    const keys = () => (storage as unknown as { counters: Map<string, unknown> }).counters.size;
    // More clients within one window than the store sweeps above (an IPv6 range makes that cheap for an attacker).
    for (let i = 0; i <= 100_000; i++) await storage.hit(`client-${i}`, MINUTE, 30, MINUTE);
    await storage.hit('client-0', MINUTE, 30, MINUTE); // the first hit above the threshold sweeps (nothing has expired)
    expect(sweep).toHaveBeenCalledTimes(1);

    for (let i = 0; i < 1000; i++) await storage.hit(`late-${i}`, MINUTE, 30, MINUTE);
    expect(sweep).toHaveBeenCalledTimes(1); // walking 100,000 keys per hit was what every request paid here

    jest.setSystemTime(Date.now() + 30_000);
    for (let i = 0; i < 2; i++) await storage.hit('attacker', MINUTE, 1, MINUTE); // blocked for a minute from now
    expect(sweep).toHaveBeenCalledTimes(2);

    jest.setSystemTime(Date.now() + 31_000); // the first clients' windows have ended; the attacker's block has not
    await storage.hit('client-new', MINUTE, 30, MINUTE);
    expect(sweep).toHaveBeenCalledTimes(3);
    expect(keys()).toBe(2); // 'attacker' and 'client-new'
    expect(await storage.blockedFor('attacker')).toBe(29_000);
  });
});
