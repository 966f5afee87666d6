import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { Clock } from '../common/clock.js';
import type { JsonObject } from '../database/columns.js';
import { Db } from '../database/db.service.js';
import { decodeCursor, encodeCursor } from '../common/cursor.js';
import { isoTime } from '../common/time.js';
import { AuditEvent } from './audit-event.entity.js';

export type AuditType =
  | 'sign_in'
  | 'sign_in_failed'
  | 'account_created'
  | 'identity_linked'
  | 'link_refused'
  | 'identity_unlinked'
  | 'role_changed'
  | 'user_disabled'
  | 'user_enabled'
  | 'user_deleted'
  | 'users_merged'
  | 'session_revoked'
  | 'refresh_token_reused'
  | 'refresh_token_retried'
  | 'authorization_code_reused'
  | 'client_created'
  | 'client_updated'
  | 'client_disabled'
  | 'client_enabled'
  | 'client_secret_rotated'
  | 'client_deleted'
  | 'client_auth_failed'
  // The OpenID Provider (issue 17): a client got its first tokens for a person's sign-in.
  | 'client_sign_in';

export interface AuditEntry {
  type: AuditType;
  userId?: string | null;
  actorId?: string | null;
  provider?: string | null;
  reason?: string | null;
  ip?: string | null;
  userAgent?: string | null;
  details?: JsonObject;
}

/** Who made the request: recorded with every event it causes. */
export interface RequestContext {
  ip: string | null;
  userAgent: string | null;
}

@Injectable()
export class AuditService {
  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
  ) {}

  /** Pass the transaction's manager when the event must commit (or roll back) with the change it records. */
  async record(entry: AuditEntry, manager?: EntityManager): Promise<void> {
    const row = {
      at: this.clock.now(),
      type: entry.type,
      userId: entry.userId ?? null,
      actorId: entry.actorId ?? null,
      provider: entry.provider ?? null,
      reason: entry.reason ?? null,
      ip: entry.ip ?? null,
      userAgent: entry.userAgent?.slice(0, 512) ?? null,
      details: entry.details ?? null,
    };
    if (manager) await this.db.insertRow(manager, AuditEvent, row);
    else await this.db.run((m) => this.db.insertRow(m, AuditEvent, row));
  }

  /** Newest first, keyset-paginated on the event id. */
  async list(filter: { userId?: string; type?: string }, limit = 50, cursor?: string) {
    const before = decodeCursor(cursor, { id: 'integer-string' });
    const rows = await this.db.run((m) => {
      const qb = m.createQueryBuilder(AuditEvent, 'e');
      if (filter.userId) qb.andWhere('e.user_id = :userId', { userId: filter.userId });
      if (filter.type) qb.andWhere('e.type = :type', { type: filter.type });
      if (before) qb.andWhere('e.id < :before', { before: Number(before.id) });
      return qb
        .orderBy('e.id', 'DESC')
        .take(limit + 1)
        .getMany();
    });
    const page = rows.slice(0, limit);
    return {
      items: page.map((e) => ({ ...e, id: String(e.id), at: isoTime(e.at) })),
      nextCursor: rows.length > limit ? encodeCursor({ id: String(page.at(-1)!.id) }) : null,
    };
  }
}
