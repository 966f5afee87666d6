import { Injectable } from '@nestjs/common';
import { In, LessThan, MoreThan } from 'typeorm';
import { Database } from '../database/db.service.js';
import { Revocation, type RevocationKind } from './revocation.entity.js';

export type NewRevocation = Omit<Revocation, 'id'>;

/** The `revocations` table: the feed every instance reads its revocation lists from. */
@Injectable()
export class RevocationsRepository {
  constructor(private readonly database: Database) {}

  async insert(row: NewRevocation): Promise<void> {
    await this.database.run((manager) => manager.insert(Revocation, row));
  }

  /** Rows still in force at `now` (of the given kinds, or all), oldest first. */
  unexpired(now: number, kinds?: RevocationKind[]): Promise<Revocation[]> {
    return this.database.run((manager) =>
      manager.find(Revocation, { where: { expiresAt: MoreThan(now), ...(kinds ? { kind: In(kinds) } : {}) }, order: { id: 'ASC' } }),
    );
  }

  async lastId(): Promise<number> {
    const last = await this.database.run((manager) =>
      manager.createQueryBuilder(Revocation, 'r').select('MAX(r.id)', 'max').getRawOne<{ max: string | number | null }>(),
    );
    return Number(last?.max ?? 0);
  }

  /** Rows after `lastId`, and the rows of `ids` (gaps read again), oldest first. */
  after(lastId: number, ids: number[]): Promise<Revocation[]> {
    const after = { id: MoreThan(String(lastId)) };
    const where = ids.length ? [after, { id: In(ids.map(String)) }] : after;
    return this.database.run((manager) => manager.find(Revocation, { where, order: { id: 'ASC' } }));
  }

  async deleteExpired(now: number): Promise<void> {
    await this.database.run((manager) => manager.delete(Revocation, { expiresAt: LessThan(now) }));
  }
}
