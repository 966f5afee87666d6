import { Injectable } from '@nestjs/common';
import { Clock } from '../common/clock.js';
import { randomToken, sha256 } from '../common/crypto.js';
import { DomainError } from '../common/domain-error.js';
import type { ResolvedConfig } from '../config/app-secret.js';
import { InjectConfig } from '../config/config.module.js';
import { SignInRepository } from './sign-in.repository.js';

const invalidTicket = () => new DomainError('invalid_request', 'this link URL is invalid, expired or already used');

/** How long the link URL may wait before the browser opens it. */
const TICKET_TTL_MS = 5 * 60_000;

/**
 * "Link another provider" while signed in: the API hands out a single-use URL whose ticket says which user the next
 * identity joins. The browser, not the bearer token, carries it to the provider and back.
 */
@Injectable()
export class LinkTicketsService {
  constructor(
    private readonly repository: SignInRepository,
    @InjectConfig() private readonly config: ResolvedConfig,
    private readonly clock: Clock,
  ) {}

  async create(userId: string, provider: string, returnTo: string): Promise<string> {
    const ticket = randomToken(32);
    const row = { ticketHash: sha256(ticket), userId, provider, returnTo, expiresAt: this.clock.now() + TICKET_TTL_MS, usedAt: null };
    await this.repository.insertLinkTicket(row);
    return `${this.config.publicUrl}/auth/${encodeURIComponent(provider)}/login?${new URLSearchParams({ link_ticket: ticket })}`;
  }

  /**
   * Whom and where an unused, unexpired ticket is for, without spending it: a link URL opened where it is refused (a
   * link-preview bot, the wrong browser) must not use it up for its requester (SignInService spends it once allowed).
   */
  async find(ticket: unknown, provider: string): Promise<{ ticket: string; userId: string; returnTo: string }> {
    if (typeof ticket !== 'string' || ticket.length > 128) throw invalidTicket();
    const now = this.clock.now();
    const row = await this.repository.findUsableLinkTicket(sha256(ticket), provider, now);
    if (!row) throw invalidTicket();
    return { ticket, userId: row.userId, returnTo: row.returnTo };
  }

  /** Spends the ticket: one conditional UPDATE, so of two uses one wins. */
  async spend(ticket: string, provider: string): Promise<void> {
    const now = this.clock.now();
    if (!(await this.repository.spendLinkTicket(sha256(ticket), provider, now))) throw invalidTicket();
  }

  async purgeExpired(): Promise<void> {
    const now = this.clock.now();
    await this.repository.deleteLinkTicketsExpiredBefore(now);
  }
}
