import { Injectable } from '@nestjs/common';
import { DomainError } from '../common/domain-error.js';
import { isAdmin } from './roles.js';
import type { User } from './user.entity.js';
import { UsersRepository } from './users.repository.js';

/**
 * Some enabled admin always remains. Every change that can take admin away goes through here: an admin's update,
 * removal or merge of users, and an unlink that drops an admin role mapped from that identity's provider.
 */
@Injectable()
export class LastAdminRule {
  constructor(private readonly users: UsersRepository) {}

  /**
   * Serialises those changes, across instances: taken first in their transaction, before any row lock, so two of them
   * taking each other's admin away at once cannot both pass `keep` (each would otherwise see the other still an admin
   * under READ COMMITTED). A transaction-level advisory lock on PostgreSQL; on SQLite, transactions already run one at
   * a time (BEGIN IMMEDIATE).
   */
  lock(): Promise<void> {
    return this.users.lockAdminChanges();
  }

  /**
   * Refuses (409 last_admin) a change after which `user` (as it was before it) is no admin and no other enabled admin
   * is left. Call after `lock`, in the same transaction.
   */
  async keep(user: User, staysAdmin: boolean): Promise<void> {
    if (!isAdmin(user) || staysAdmin) return;
    if ((await this.users.countOtherEnabledAdmins(user.id)) === 0) {
      throw new DomainError('last_admin', 'this is the last admin: make someone else admin first');
    }
  }
}
