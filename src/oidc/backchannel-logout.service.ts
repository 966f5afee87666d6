import { Injectable, Logger, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { AuditService } from '../audit/audit.service.js';
import { Clock } from '../common/clock.js';
import type { ResolvedConfig } from '../config/app-secret.js';
import { InjectConfig } from '../config/config.module.js';
import { Database } from '../database/db.service.js';
import { LogThrottle } from '../logging/log-throttle.js';
import { BackchannelLogoutRepository, type LogoutDelivery } from './backchannel-logout.repository.js';
import { sendLogoutToken, type Attempted } from './logout-token-delivery.js';
import { OidcProviderService } from './oidc-provider.service.js';

/** How often each instance looks for ended sessions and due deliveries. */
export const BACKCHANNEL_POLL_MS = 500;
/**
 * Feed rows are read again for this long: a revocation's row is written (its `at` taken) before its transaction
 * commits, so a row can become visible after a later one was read. Queuing is idempotent, so reading twice is free.
 */
const REREAD_MS = 30_000;
/** A session counts as ended by a feed row if it ended at most this long before the row was written. */
const ENDED_SLACK_MS = 60_000;
/** An instance holds a delivery for its timeout plus this; past that (it died), another instance may try. */
const CLAIM_MARGIN_MS = 30_000;
/** Deliveries taken per look, per instance. */
const BATCH = 50;
const PURGE_EVERY_MS = 3_600_000;
/** How often each instance looks for sessions that ran out (a scan of the recent grants, so not at every look). */
const EXPIRY_SWEEP_MS = 5_000;

/**
 * Back-Channel Logout 1.0 (docs/openid-provider.md, SECURITY.md O7): every client with a `backchannel_logout_uri`
 * that got tokens in a session that ended is sent one logout token per (client, sid), off the request path.
 *
 * Sessions end in many places (RP-initiated logout, /auth/logout, sign out everywhere, the account page, admin revoke,
 * disable, delete, code and refresh-token reuse), and every one of them writes the revocation feed in the transaction
 * that ends the session. So instead of a hook in each path, this reads the feed: each look queues a delivery for every
 * client session the recent feed rows ended (BackchannelLogoutRepository.enqueueEnded, keyed by (client, sid), so
 * queuing is idempotent across looks, paths and instances), then claims due deliveries one conditional UPDATE at a time
 * (of instances sharing the database exactly one gets each) and sends them. A session also ends with no request at all,
 * when it runs out (its lifetime or its idle time); every EXPIRY_SWEEP_MS a look queues those too
 * (BackchannelLogoutRepository.enqueueExpired: a scan of the OP's grants joined to their sessions by key). A client
 * that answers anything but 200/204, or not at all within BACKCHANNEL_LOGOUT_TIMEOUT_MS, is tried again after
 * BACKCHANNEL_LOGOUT_RETRY_MS, doubling, up to BACKCHANNEL_LOGOUT_ATTEMPTS; every attempt is audited (`logout_notification_sent`,
 * `logout_notification_failed`). The request that ended the session never waits for, nor fails with, a client.
 *
 * Delivery is once per (client, sid) unless an instance dies between sending and recording the answer: its claim then
 * runs out and another instance sends again (at least once; a client takes a repeated token by its `sid`).
 */
@Injectable()
export class BackchannelLogoutService implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('BackchannelLogout');
  private readonly faults = new LogThrottle((message) => this.logger.warn(message));
  private timer?: NodeJS.Timeout;
  private polling?: Promise<void>;
  private readonly sending = new Set<Promise<void>>();
  /** Feed rows written after this are looked at on the next look. */
  private since = 0;
  /** Sessions that ran out after this are looked for at the next sweep. */
  private expiredSince = 0;
  private lastExpirySweep = 0;
  private lastPurge = 0;
  private stopped = false;

  constructor(
    private readonly repo: BackchannelLogoutRepository,
    private readonly op: OidcProviderService,
    private readonly audit: AuditService,
    private readonly database: Database,
    private readonly clock: Clock,
    @InjectConfig() private readonly config: ResolvedConfig,
  ) {}

  onApplicationBootstrap(): void {
    // At start, every feed row still kept (they outlive the access tokens they concern): what ended while no instance
    // was running, or between another instance's last look and its stop, is queued now.
    this.since = this.clock.now() - this.config.jwt.accessTokenTtl * 1000 - 60_000;
    // Likewise for sessions that ran out meanwhile.
    this.expiredSince = this.since;
    this.timer = setInterval(() => void this.poll(), BACKCHANNEL_POLL_MS);
    this.timer.unref();
  }

  async onModuleDestroy(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.polling;
    await Promise.all(this.sending);
    this.faults.close();
  }

  /** One look: queue what ended, send what is due. */
  poll(): Promise<void> {
    this.polling ??= this.look().finally(() => (this.polling = undefined));
    return this.polling;
  }

  private async look(): Promise<void> {
    try {
      const now = this.clock.now();
      const { refreshIdleTtl, refreshTokenTtl } = this.config.jwt;
      await this.repo.enqueueEnded(this.since, this.since - ENDED_SLACK_MS, now, {
        idleMs: refreshIdleTtl * 1000,
        lifetimeMs: refreshTokenTtl * 1000,
      });
      this.since = Math.max(this.since, now - REREAD_MS);
      if (now - this.lastExpirySweep >= EXPIRY_SWEEP_MS) {
        await this.repo.enqueueExpired(this.expiredSince, now, { idleMs: refreshIdleTtl * 1000, lifetimeMs: refreshTokenTtl * 1000 });
        // Read again a little (another instance's clock, a session used at the edge): queuing is idempotent.
        this.expiredSince = now - ENDED_SLACK_MS;
        this.lastExpirySweep = now;
      }
      const until = now + this.config.backchannelLogout.timeoutMs + CLAIM_MARGIN_MS;
      for (const delivery of await this.repo.due(now, BATCH)) {
        if (this.stopped) break;
        if (!(await this.repo.claim(delivery, now, until))) continue;
        // Each send on its own: one slow client does not hold up the others, nor the next look.
        const sent = this.deliver(delivery, delivery.attempts + 1).finally(() => this.sending.delete(sent));
        this.sending.add(sent);
      }
      if (now - this.lastPurge > PURGE_EVERY_MS) {
        this.lastPurge = now;
        // Kept for a session's whole lifetime: no session that could still end is told twice.
        await this.repo.purgeFinished(now - refreshTokenTtl * 1000 - ENDED_SLACK_MS);
      }
    } catch (e) {
      this.faults.note('look', `back-channel logout: ended sessions not read, retrying: ${(e as Error).message}`);
    }
  }

  private async deliver(d: LogoutDelivery, attempt: number): Promise<void> {
    try {
      const { attempts, retryMs, timeoutMs } = this.config.backchannelLogout;
      // The client as it is now: a disabled client is not found (no token for it), a removed URI is not sent to.
      const client = await this.op.provider.Client.find(d.clientId);
      if (!client?.backchannelLogoutUri) {
        await this.record(d, 'skipped', attempt, { ok: false, status: client ? 'no_backchannel_logout_uri' : 'client_unavailable' }, true);
        return;
      }
      const result = await sendLogoutToken(client, d.userId, d.oidcSid ?? undefined, timeoutMs);
      if (result.ok) return await this.record(d, 'sent', attempt, result, true);
      const last = attempt >= attempts;
      await this.record(d, last ? 'failed' : 'pending', attempt, result, last, this.clock.now() + retryMs * 2 ** (attempt - 1));
    } catch (e) {
      // Not recorded (the database is away): the claim runs out and a later look tries again.
      this.faults.note('deliver', `back-channel logout to ${d.clientId} not recorded: ${(e as Error).message}`);
    }
  }

  private async record(
    d: LogoutDelivery,
    state: 'sent' | 'failed' | 'skipped' | 'pending',
    attempt: number,
    result: Attempted,
    final: boolean,
    nextAttemptAt?: number,
  ): Promise<void> {
    const now = this.clock.now();
    await this.database.transaction(async () => {
      await this.repo.settle(d, state, result.status, now, nextAttemptAt);
      await this.audit.record({
        type: result.ok ? 'logout_notification_sent' : 'logout_notification_failed',
        userId: d.userId,
        actorId: d.clientId,
        reason: result.ok
          ? 'back-channel logout'
          : state === 'skipped'
            ? 'back-channel logout: the client is disabled or has no backchannel_logout_uri now'
            : final
              ? 'back-channel logout: given up'
              : 'back-channel logout: will retry',
        details: {
          clientId: d.clientId,
          sessionId: d.sessionId,
          sid: d.oidcSid,
          attempt,
          status: result.status,
          ...(nextAttemptAt !== undefined && !final ? { retryAt: new Date(nextAttemptAt).toISOString() } : {}),
        },
      });
    });
  }
}
