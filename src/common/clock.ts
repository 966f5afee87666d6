/** All time goes through this, in epoch milliseconds, so tests can move it (token lifetimes, code expiry). */
export abstract class Clock {
  abstract now(): number;
}

export class SystemClock extends Clock {
  now(): number {
    return Date.now();
  }
}
