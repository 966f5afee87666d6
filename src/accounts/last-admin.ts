import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { DomainError } from '../common/domain-error.js';
import { Db } from '../database/db.service.js';
import { isAdmin, ROLE_ADMIN } from './roles.js';
import { User } from './user.entity.js';

/** PostgreSQL advisory lock key of the changes that may take away the last admin (any constant unique in this app). */
const ADMIN_CHANGES_LOCK = 0x61646d696e; // "admin"

/**
 * Some enabled admin always remains. Every change that can take admin away goes through here: an admin's update,
 * removal or merge of users, and an unlink that drops an admin role mapped from that identity's provider.
 */
@Injectable()
export class LastAdminRule {
  constructor(private readonly db: Db) {}

  /**
   * Serialises those changes, across instances: taken first in their transaction, before any row lock, so two of them
   * taking each other's admin away at once cannot both pass `keep` (each would otherwise see the other still an admin
   * under READ COMMITTED). A transaction-level advisory lock on PostgreSQL; on SQLite, transactions already run one at
   * a time (BEGIN IMMEDIATE).
   */
  async lock(m: EntityManager): Promise<void> {
    if (this.db.postgres) await this.db.sql(m, 'SELECT pg_advisory_xact_lock(:key)', { key: ADMIN_CHANGES_LOCK });
  }

  /**
   * Refuses (409 last_admin) a change after which `user` (as it was before it) is no admin and no other enabled admin
   * is left. Call after `lock`. Roles match exactly, as the guards compare them: `ADMIN` is not `admin` (SQLite's LIKE
   * would fold the case); the quotes make it one whole element of the JSON array.
   */
  async keep(m: EntityManager, user: User, staysAdmin: boolean): Promise<void> {
    if (!isAdmin(user) || staysAdmin) return;
    const contains = (column: string) => (this.db.postgres ? `strpos(${column}, :admin) > 0` : `instr(${column}, :admin) > 0`);
    const others = await m
      .createQueryBuilder(User, 'u')
      .where('u.id <> :id', { id: user.id })
      .andWhere('u.disabled = :no', { no: false })
      .andWhere(`(${contains('u.roles')} OR ${contains('u.provider_roles')})`, { admin: JSON.stringify(ROLE_ADMIN) })
      .getCount();
    if (others === 0) throw new DomainError('last_admin', 'this is the last admin: make someone else admin first');
  }
}
