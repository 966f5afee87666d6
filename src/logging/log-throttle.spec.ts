import { jest } from '@jest/globals';
import { LogThrottle } from './log-throttle.js';

describe('LogThrottle', () => {
  let lines: [string, Record<string, unknown>, number][];
  let throttle: LogThrottle;

  beforeEach(() => {
    jest.useFakeTimers();
    lines = [];
    throttle = new LogThrottle((message, fields, repeated) => lines.push([message, fields, repeated]), 10_000);
  });

  afterEach(() => {
    throttle.close();
    jest.useRealTimers();
  });

  it('writes the first event at once, then one count per interval while they keep coming', () => {
    throttle.note('redis', 'Redis unavailable', { err: 'timeout' });
    for (let i = 0; i < 1000; i++) throttle.note('redis', 'Redis unavailable');
    expect(lines).toEqual([['Redis unavailable', { err: 'timeout' }, 0]]);

    jest.advanceTimersByTime(10_000);
    expect(lines.slice(1)).toEqual([['Redis unavailable (1000 more in the last 10 s)', {}, 1000]]);

    for (let i = 0; i < 5; i++) throttle.note('redis', 'Redis unavailable');
    jest.advanceTimersByTime(10_000);
    expect(lines.slice(2)).toEqual([['Redis unavailable (5 more in the last 10 s)', {}, 5]]);
  });

  it('after a quiet interval writes the next event at once again, and keeps kinds apart', () => {
    throttle.note('redis', 'Redis unavailable');
    jest.advanceTimersByTime(10_000);
    expect(lines).toHaveLength(1);
    jest.advanceTimersByTime(10_000);
    throttle.note('redis', 'Redis unavailable again');
    throttle.note('database', 'database unavailable');
    throttle.note('database', 'database unavailable');
    expect(lines.map(([m]) => m)).toEqual(['Redis unavailable', 'Redis unavailable again', 'database unavailable']);
    expect(jest.getTimerCount()).toBe(2);
  });

  it('writes pending counts on close and leaves no timer behind', () => {
    throttle.note('redis', 'Redis unavailable');
    throttle.note('redis', 'Redis unavailable');
    throttle.close();
    expect(lines.map(([, , n]) => n)).toEqual([0, 1]);
    expect(jest.getTimerCount()).toBe(0);
  });
});
