/** How often a fault that keeps happening is logged again, as a count (issue 19: 7,545 lines in 20 s before). */
export const LOG_REPEAT_INTERVAL_MS = 10_000;

/** One line written for a kind of event: the first one as it came, then `repeated` more, once per interval. */
export type ThrottledWrite = (message: string, fields: Record<string, unknown>, repeated: number) => void;

/**
 * For events that come once per request during a fault (Redis not answering, the database unreachable): the first
 * of each kind (`key`) is written at once with its details; while more keep coming, one line per interval says how
 * many there were; after a quiet interval the next one is written at once again. Timers are unref'd, so a pending
 * count never keeps the process alive; `close()` writes what is pending.
 */
export class LogThrottle {
  private readonly pending = new Map<string, { count: number; message: string; timer: NodeJS.Timeout }>();

  constructor(
    private readonly write: ThrottledWrite,
    private readonly intervalMs = LOG_REPEAT_INTERVAL_MS,
  ) {}

  note(key: string, message: string, fields: Record<string, unknown> = {}): void {
    const window = this.pending.get(key);
    if (window) {
      window.count++;
      window.message = message;
      return;
    }
    this.write(message, fields, 0);
    this.open(key, message);
  }

  /** Writes the counts not yet written and stops the timers (at shutdown). */
  close(): void {
    for (const window of this.pending.values()) {
      clearTimeout(window.timer);
      this.flush(window.count, window.message);
    }
    this.pending.clear();
  }

  private open(key: string, message: string): void {
    const timer = setTimeout(() => {
      const window = this.pending.get(key)!;
      this.pending.delete(key);
      // Still happening: say how often, and keep counting; a quiet interval ends the window.
      if (window.count > 0) {
        this.flush(window.count, window.message);
        this.open(key, window.message);
      }
    }, this.intervalMs);
    timer.unref();
    this.pending.set(key, { count: 0, message, timer });
  }

  private flush(count: number, message: string): void {
    if (count > 0) this.write(`${message} (${count} more in the last ${Math.round(this.intervalMs / 1000)} s)`, {}, count);
  }
}
