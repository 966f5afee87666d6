import { Clock } from '../../src/common/clock.js';

/** A clock the test moves by hand (token lifetimes, code expiry, grace periods). */
export class ManualClock extends Clock {
  constructor(private t = Date.now()) {
    super();
  }
  now(): number {
    return this.t;
  }
  advance(ms: number): void {
    this.t += ms;
  }
}
