import { Injectable, Logger, type OnApplicationBootstrap, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { Clock } from '../common/clock.js';
import { InjectConfig } from '../config/config.module.js';
import type { ResolvedConfig } from '../config/app-secret.js';
import { Database } from '../database/db.service.js';
import type { Revocation, RevocationKind } from './revocation.entity.js';
import { RevocationsRepository } from './revocations.repository.js';
import { SigningKeysService } from './signing-keys.service.js';
import { LogThrottle } from '../logging/log-throttle.js';

/** How often each instance reads the feed: the bound on how long a revoked token still works elsewhere. */
export const REVOCATION_POLL_MS = 500;
/** A gap in the ids (a transaction not yet committed on PostgreSQL) is re-read for this long, then given up. */
const HOLE_TTL_MS = 10_000;
/** Rows outlive the tokens they concern by this margin (clock differences between instances). */
const MARGIN_MS = 60_000;

/**
 * Revocation without a database query per request: every instance keeps the revoked sessions and per-user
 * not-before times in memory, fed by the `revocations` table, which it polls twice a second. The instance that
 * revokes applies the change at once; the others within REVOCATION_POLL_MS plus one query. Works on SQLite alone.
 */
@Injectable()
export class RevocationsService implements OnModuleInit, OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(RevocationsService.name);
  /** The feed is read every 0.5 s: during a database outage, the first failure and then a count per interval. */
  private readonly feedFaults = new LogThrottle((message) => this.logger.warn(message));
  private readonly sessions = new Map<string, number>();
  private readonly users = new Map<string, { notBefore: number; expiresAt: number }>();
  private lastId = 0;
  private readonly holes = new Map<number, number>();
  private timer?: NodeJS.Timeout;
  private polling?: Promise<void>;

  constructor(
    private readonly database: Database,
    private readonly repository: RevocationsRepository,
    private readonly keys: SigningKeysService,
    @InjectConfig() private readonly config: ResolvedConfig,
    private readonly clock: Clock,
  ) {}

  async onModuleInit(): Promise<void> {
    const now = this.clock.now();
    for (const row of await this.repository.unexpired(now)) this.apply(row, false);
    this.lastId = await this.repository.lastId();
  }

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => void this.poll(), REVOCATION_POLL_MS);
    this.timer.unref();
  }

  async onModuleDestroy(): Promise<void> {
    clearInterval(this.timer);
    await this.polling;
    this.feedFaults.close();
  }

  /** The hot path: two map look-ups. API clients' tokens have no session; their `sub` is the client id. */
  isRevoked(sid: string | undefined, userId: string, iatSeconds: number): boolean {
    if (sid !== undefined && this.sessions.has(sid)) return true;
    const user = this.users.get(userId);
    return user !== undefined && iatSeconds <= Math.floor(user.notBefore / 1000);
  }

  /** When the user's tokens were last revoked (epoch ms), if that can still matter. */
  userNotBefore(userId: string): number | undefined {
    return this.users.get(userId)?.notBefore;
  }

  /**
   * The `iat` (seconds) for a token or page session issued now for this subject. After its tokens were revoked within
   * this very second, a new one starts at the next second, so the revocation (which refuses iat ≤ its second)
   * catches every older token and none of the new ones.
   */
  issuedAtFor(subject: string): number {
    const notBefore = this.userNotBefore(subject);
    return Math.max(Math.floor(this.clock.now() / 1000), notBefore === undefined ? 0 : Math.floor(notBefore / 1000) + 1);
  }

  /** Inside the transaction that ends the session, if any: both commit together. */
  async revokeSession(sessionId: string): Promise<void> {
    await this.publish('session', sessionId, null);
  }

  /** Every access token of the user (or API client) issued until now stops working (disable, role change, delete). */
  async revokeUserTokens(userId: string): Promise<void> {
    // Tokens issued after an earlier revocation in this same second carry iat = that second + 1 (see
    // AccessTokensService.issue), so a second revocation within the second must reach past it.
    const previous = this.users.get(userId)?.notBefore;
    const notBefore = Math.max(this.clock.now(), previous === undefined ? 0 : (Math.floor(previous / 1000) + 1) * 1000);
    await this.publish('user', userId, notBefore);
  }

  /**
   * Every revocation that can still matter, straight from the table (so it is complete on any instance, with no gaps
   * to re-read), for apps that verify our tokens themselves: GET /auth/revocations.
   */
  async current(): Promise<{ sessions: Revocation[]; subjects: Revocation[] }> {
    const rows = await this.repository.unexpired(this.clock.now(), ['session', 'user']);
    return { sessions: rows.filter((r) => r.kind === 'session'), subjects: rows.filter((r) => r.kind === 'user') };
  }

  /** Reads new feed entries now (tests and the poll timer). */
  poll(): Promise<void> {
    this.polling ??= this.readFeed().finally(() => (this.polling = undefined));
    return this.polling;
  }

  private async publish(kind: RevocationKind, subject: string, notBefore: number | null): Promise<void> {
    const at = this.clock.now();
    const row = { kind, subject, notBefore, at, expiresAt: at + this.config.jwt.accessTokenTtl * 1000 + MARGIN_MS };
    await this.repository.insert(row);
    // This instance applies it at once, but only once it is committed: a rolled-back revocation must not linger here.
    this.database.afterCommit(() => this.apply(row, false));
  }

  private async readFeed(): Promise<void> {
    try {
      const now = this.clock.now();
      const rows = await this.repository.after(this.lastId, [...this.holes.keys()]);
      for (const row of rows) {
        const id = Number(row.id);
        this.holes.delete(id);
        if (id > this.lastId) {
          // Ids skipped over may belong to transactions that commit later (PostgreSQL): read them again.
          for (let missing = this.lastId + 1; missing < id && missing > id - 1000; missing++) this.holes.set(missing, now);
          this.lastId = id;
        }
        this.apply(row, true);
      }
      for (const [id, since] of this.holes) if (now - since > HOLE_TTL_MS) this.holes.delete(id);
      this.prune(now);
    } catch (e) {
      this.feedFaults.note('feed', `revocation feed not readable, retrying: ${(e as Error).message}`);
    }
  }

  private apply(row: Pick<Revocation, 'kind' | 'subject' | 'notBefore' | 'expiresAt'>, fromFeed: boolean): void {
    if (row.kind === 'session' && row.subject) {
      this.sessions.set(row.subject, row.expiresAt);
    } else if (row.kind === 'user' && row.subject && row.notBefore !== null) {
      const current = this.users.get(row.subject);
      if (!current || current.notBefore < row.notBefore)
        this.users.set(row.subject, { notBefore: row.notBefore, expiresAt: row.expiresAt });
    } else if (row.kind === 'keys' && fromFeed) {
      void this.keys.reload().catch((e: Error) => this.logger.warn(`signing keys not reloaded: ${e.message}`));
    }
  }

  private prune(now: number): void {
    for (const [sid, expiresAt] of this.sessions) if (expiresAt <= now) this.sessions.delete(sid);
    for (const [user, entry] of this.users) if (entry.expiresAt <= now) this.users.delete(user);
  }

  /** Feed rows are only needed while the tokens they concern can still be alive. */
  async purgeExpired(): Promise<void> {
    const now = this.clock.now();
    await this.repository.deleteExpired(now);
  }
}
