import { Injectable } from '@nestjs/common';
import { Database } from '../database/db.service.js';
import { AuditEvent } from './audit-event.entity.js';

/** The `audit_events` table: appended to, read newest first. */
@Injectable()
export class AuditRepository {
  constructor(private readonly database: Database) {}

  /** Plain SQL from the entity's metadata: every sign-in writes one or two of these. */
  insert(event: Omit<AuditEvent, 'id'>): Promise<void> {
    return this.database.insertRow(AuditEvent, event);
  }

  /** Newest first, before the event `beforeId` when given; `limit` rows at most. */
  list(filter: { userId?: string; type?: string; beforeId?: number }, limit: number): Promise<AuditEvent[]> {
    return this.database.run((manager) => {
      const qb = manager.createQueryBuilder(AuditEvent, 'e');
      if (filter.userId) qb.andWhere('e.user_id = :userId', { userId: filter.userId });
      if (filter.type) qb.andWhere('e.type = :type', { type: filter.type });
      if (filter.beforeId !== undefined) qb.andWhere('e.id < :before', { before: filter.beforeId });
      return qb.orderBy('e.id', 'DESC').take(limit).getMany();
    });
  }
}
