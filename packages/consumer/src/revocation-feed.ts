import { createHash } from 'node:crypto';

interface FeedBody {
  sessions: { sid_sha256: string; exp: number }[];
  subjects: { sub_sha256: string; not_before: number; exp: number }[];
  poll_interval_ms: number;
}

const hash = (value: string) => createHash('sha256').update(value).digest('base64url');

/**
 * The service's revoked sessions and subjects (`GET /auth/revocations`), polled at the interval the service announces
 * (the same bound the service keeps for itself). Identifiers arrive hashed; a token's `sid` and `sub` are hashed to
 * look them up. If the service cannot be reached, the last state read is kept (and a warning logged): tokens
 * revoked meanwhile stay accepted until they expire, as with any offline verification.
 */
export class RevocationFeed {
  private sessions = new Map<string, number>();
  private subjects = new Map<string, number>();
  private etag?: string;
  private timer?: NodeJS.Timeout;
  private failing = false;

  constructor(
    private readonly url: string,
    private readonly pollIntervalMs?: number,
  ) {}

  /** Reads the feed once (the verifier waits for it), then keeps polling in the background. */
  async start(): Promise<void> {
    const interval = await this.poll();
    this.timer = setInterval(() => void this.poll().catch(() => undefined), this.pollIntervalMs ?? interval);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  isRevoked(claims: { sid?: unknown; sub?: unknown; iat?: unknown }): boolean {
    if (typeof claims.sid === 'string' && this.sessions.has(hash(claims.sid))) return true;
    const notBefore = typeof claims.sub === 'string' ? this.subjects.get(hash(claims.sub)) : undefined;
    return notBefore !== undefined && typeof claims.iat === 'number' && claims.iat <= notBefore;
  }

  private async poll(): Promise<number> {
    try {
      // fetch() adds `Cache-Control: no-cache` to a conditional request unless one is given, and a server must then
      // answer in full (RFC 9111 §5.2.1.4); max-age=0 still revalidates, so an unchanged feed is a 304.
      const headers: Record<string, string> = this.etag ? { 'if-none-match': this.etag, 'cache-control': 'max-age=0' } : {};
      const res = await fetch(this.url, { headers, signal: AbortSignal.timeout(5000) });
      if (res.status === 304) return this.recovered(0);
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      const body = (await res.json()) as FeedBody;
      this.sessions = new Map(body.sessions.map((s) => [s.sid_sha256, s.exp]));
      this.subjects = new Map(body.subjects.map((s) => [s.sub_sha256, s.not_before]));
      this.etag = res.headers.get('etag') ?? undefined;
      return this.recovered(body.poll_interval_ms);
    } catch (e) {
      if (!this.failing)
        console.warn(`@social-login/consumer: revocation feed unreachable, keeping the last state: ${(e as Error).message}`);
      this.failing = true;
      if (!this.timer) throw e;
      return 0;
    }
  }

  private recovered(interval: number): number {
    this.failing = false;
    return interval || 500;
  }
}
