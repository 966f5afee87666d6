import { Injectable } from '@nestjs/common';
import { Clock } from '../common/clock.js';
import type { JsonObject } from '../database/columns.js';
import { decodeCursor, encodeCursor } from '../common/cursor.js';
import { isoTime } from '../common/time.js';
import { AuditRepository } from './audit.repository.js';

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
  | 'client_sign_in'
  // A person allowed a third-party client scopes, denied them on the consent page, or the consent was revoked (by them
  // or an admin): SECURITY.md O6.
  | 'consent_given'
  | 'consent_denied'
  | 'consent_revoked'
  // RFC 7009: an API client revoked its own client-credentials token, which ends every token of that client issued
  // until then (a person's token revoked by a client is session_revoked, reason revoked_by_client): SECURITY.md O9.
  | 'client_tokens_revoked'
  // Back-Channel Logout 1.0: a logout token delivered to a client, or an attempt that failed (details: attempt, status).
  | 'logout_notification_sent'
  | 'logout_notification_failed';

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

@Injectable()
export class AuditService {
  constructor(
    private readonly repository: AuditRepository,
    private readonly clock: Clock,
  ) {}

  /** Inside a transaction, the event commits (or rolls back) with the change it records. */
  async record(entry: AuditEntry): Promise<void> {
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
    await this.repository.insert(row);
  }

  /** Newest first, keyset-paginated on the event id. */
  async list(filter: { userId?: string; type?: string }, limit = 50, cursor?: string) {
    const before = decodeCursor(cursor, { id: 'integer-string' });
    const rows = await this.repository.list({ ...filter, beforeId: before ? Number(before.id) : undefined }, limit + 1);
    const page = rows.slice(0, limit);
    return {
      items: page.map((e) => ({ ...e, id: String(e.id), at: isoTime(e.at) })),
      nextCursor: rows.length > limit ? encodeCursor({ id: String(page.at(-1)!.id) }) : null,
    };
  }
}
