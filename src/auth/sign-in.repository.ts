import { Injectable } from '@nestjs/common';
import { IsNull, LessThan, MoreThan } from 'typeorm';
import { LinkTicket } from '../accounts/link-ticket.entity.js';
import { Database } from '../database/db.service.js';
import { AuthorizationCode } from './authorization-code.entity.js';
import { UsedLoginState } from './used-login-state.entity.js';

/**
 * The sign-in flow's single-use rows, each kept as a hash: authorization codes, link tickets and used login states.
 * Each is spent by one conditional statement (of concurrent uses exactly one wins) and deleted some time after it
 * expires. The code's statements are plain SQL: every sign-in and every code exchange runs them.
 */
@Injectable()
export class SignInRepository {
  constructor(private readonly database: Database) {}

  insertCode(code: AuthorizationCode): Promise<void> {
    return this.database.insertRow(AuthorizationCode, code);
  }

  async findCode(codeHash: string): Promise<AuthorizationCode | null> {
    return (await this.database.findRow(AuthorizationCode, { codeHash })) ?? null;
  }

  /** Spends the code unless it is spent or expired; returns whether this did. */
  async spendCode(codeHash: string, now: number): Promise<boolean> {
    const { affected } = await this.database.sql(
      'UPDATE authorization_codes SET consumed_at = :now WHERE code_hash = :hash AND consumed_at IS NULL AND expires_at > :now',
      { now, hash: codeHash },
    );
    return affected === 1;
  }

  /** Records the session a spent code started (a replayed code then ends it). */
  async setCodeSession(codeHash: string, sessionId: string): Promise<void> {
    await this.database.updateRows(AuthorizationCode, { codeHash }, { sessionId });
  }

  async deleteCodesExpiredBefore(time: number): Promise<void> {
    await this.database.run((manager) => manager.delete(AuthorizationCode, { expiresAt: LessThan(time) }));
  }

  async insertLinkTicket(ticket: LinkTicket): Promise<void> {
    await this.database.run((manager) => manager.insert(LinkTicket, ticket));
  }

  /** The ticket if it is for `provider`, unused and unexpired at `now`. */
  findUsableLinkTicket(ticketHash: string, provider: string, now: number): Promise<LinkTicket | null> {
    return this.database.run((manager) =>
      manager.findOneBy(LinkTicket, { ticketHash, provider, usedAt: IsNull(), expiresAt: MoreThan(now) }),
    );
  }

  /** Spends the ticket if it is for `provider`, unused and unexpired; returns whether this did. */
  async spendLinkTicket(ticketHash: string, provider: string, now: number): Promise<boolean> {
    const res = await this.database.run((manager) =>
      manager.update(LinkTicket, { ticketHash, provider, usedAt: IsNull(), expiresAt: MoreThan(now) }, { usedAt: now }),
    );
    return res.affected === 1;
  }

  async deleteLinkTicketsExpiredBefore(time: number): Promise<void> {
    await this.database.run((manager) => manager.delete(LinkTicket, { expiresAt: LessThan(time) }));
  }

  /** Records a login state as used; a unique violation (isUniqueViolation) means it already was. */
  insertUsedLoginState(state: UsedLoginState): Promise<void> {
    return this.database.insertRow(UsedLoginState, state);
  }

  async deleteUsedLoginStatesExpiredBefore(time: number): Promise<void> {
    await this.database.run((manager) => manager.delete(UsedLoginState, { expiresAt: LessThan(time) }));
  }
}
