import { Injectable } from '@nestjs/common';
import { Brackets } from 'typeorm';
import { likePattern } from '../common/cursor.js';
import { lowerCaseAscii } from '../common/email.js';
import { Database } from '../database/db.service.js';
import { Identity } from './identity.entity.js';
import { ROLE_ADMIN } from './roles.js';
import { User } from './user.entity.js';

/** PostgreSQL advisory lock key of the changes that may take away the last admin (any constant unique in this app). */
const ADMIN_CHANGES_LOCK = 0x61646d696e; // "admin"
/** A whole email address: searched by equality, through the index. */
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
/** Above this many trigram matches, sorting them all costs more than walking the newest users until a page fills. */
const TRIGRAM_CANDIDATES = 200;

/**
 * Users and their identities. The sign-in path's look-ups and writes are plain SQL built from the entities'
 * metadata (`Database.findRow` & co.): TypeORM's query builder cost a fifth of a sign-in's CPU.
 */
@Injectable()
export class UsersRepository {
  constructor(private readonly database: Database) {}

  async findUser(id: string): Promise<User | null> {
    return (await this.database.findRow(User, { id })) ?? null;
  }

  async insertUser(user: User): Promise<void> {
    await this.database.run((manager) => manager.insert(User, user));
  }

  /** Returns whether the user exists (on PostgreSQL the UPDATE also holds the user's row lock until the transaction ends). */
  async updateUser(id: string, change: Partial<Omit<User, 'id'>>): Promise<boolean> {
    return (await this.database.updateRows<User>(User, { id }, change)) === 1;
  }

  async deleteUser(id: string): Promise<void> {
    await this.database.run((manager) => manager.delete(User, { id }));
  }

  /** Up to two users whose email a provider verified: enough to tell none, one and several apart. */
  async verifiedEmailOwners(email: string): Promise<string[]> {
    const users = await this.database.run((manager) =>
      manager.find(User, { select: { id: true }, where: { email, emailVerified: true }, take: 2 }),
    );
    return users.map((u) => u.id);
  }

  /** By id, or by email (stored folded in ASCII): up to two, so that a shared email shows. */
  findByIdOrEmail(who: string): Promise<User[]> {
    return this.database.run((manager) =>
      manager
        .createQueryBuilder(User, 'u')
        .where('u.id = :who OR u.email = :email', { who, email: lowerCaseAscii(who) })
        .take(2)
        .getMany(),
    );
  }

  async findIdentity(provider: string, subject: string): Promise<Identity | null> {
    return (await this.database.findRow(Identity, { provider, subject })) ?? null;
  }

  findIdentityOf(userId: string, id: string): Promise<Identity | null> {
    return this.database.run((manager) => manager.findOneBy(Identity, { id, userId }));
  }

  /** Oldest link first. */
  identitiesOf(userId: string): Promise<Identity[]> {
    return this.database.run((manager) => manager.find(Identity, { where: { userId }, order: { linkedAt: 'ASC' } }));
  }

  countIdentities(userId: string): Promise<number> {
    return this.database.run((manager) => manager.countBy(Identity, { userId }));
  }

  /** The roles each of the user's identities maps from its provider. */
  async mappedRolesOf(userId: string): Promise<string[][]> {
    const identities = await this.database.run((manager) => manager.find(Identity, { select: { mappedRoles: true }, where: { userId } }));
    return identities.map((i) => i.mappedRoles);
  }

  insertIdentity(identity: Identity): Promise<void> {
    return this.database.insertRow(Identity, identity);
  }

  async updateIdentity(id: string, change: Partial<Omit<Identity, 'id'>>): Promise<void> {
    await this.database.updateRows<Identity>(Identity, { id }, change);
  }

  async deleteIdentity(id: string): Promise<void> {
    await this.database.run((manager) => manager.delete(Identity, { id }));
  }

  /** Moves every identity of one user to another; returns the identities moved. */
  moveIdentities(fromUserId: string, toUserId: string): Promise<Identity[]> {
    return this.database.run(async (manager) => {
      const moved = await manager.find(Identity, { where: { userId: fromUserId } });
      await manager.update(Identity, { userId: fromUserId }, { userId: toUserId });
      return moved;
    });
  }

  /**
   * Serialises the changes that may take away the last admin, across instances, until the transaction ends: a
   * transaction-level advisory lock on PostgreSQL; on SQLite, transactions already run one at a time (BEGIN
   * IMMEDIATE). Call inside a transaction.
   */
  async lockAdminChanges(): Promise<void> {
    if (this.database.postgres) await this.database.sql('SELECT pg_advisory_xact_lock(:key)', { key: ADMIN_CHANGES_LOCK });
  }

  /**
   * How many enabled users other than `userId` are admins. Roles match exactly, as the guards compare them: `ADMIN`
   * is not `admin` (SQLite's LIKE would fold the case); the quotes make it one whole element of the JSON array.
   */
  countOtherEnabledAdmins(userId: string): Promise<number> {
    const contains = (column: string) => (this.database.postgres ? `strpos(${column}, :admin) > 0` : `instr(${column}, :admin) > 0`);
    return this.database.run((manager) =>
      manager
        .createQueryBuilder(User, 'u')
        .where('u.id <> :id', { id: userId })
        .andWhere('u.disabled = :no', { no: false })
        .andWhere(`(${contains('u.roles')} OR ${contains('u.provider_roles')})`, { admin: JSON.stringify(ROLE_ADMIN) })
        .getCount(),
    );
  }

  /**
   * Users newest first, matching `query` (a whole email address, a substring of email or name, or a provider
   * subject) when given, from after `after` (the last of the previous page) on; `limit` at most.
   */
  search(query: string | undefined, after: { createdAt: number; id: string } | undefined, limit: number): Promise<User[]> {
    return this.database.run(async (manager) => {
      const qb = manager.createQueryBuilder(User, 'u');
      let matches: string[] | undefined;
      if (query && EMAIL.test(query)) {
        // A whole email address is looked up, not scanned for (emails are stored ASCII-lower-cased, and indexed).
        qb.where(
          new Brackets((w) =>
            w.where('u.email = :email').orWhere('u.id IN (SELECT i.user_id FROM identities i WHERE i.subject = :subject)'),
          ),
          { email: lowerCaseAscii(query), subject: query },
        );
      } else if (query && (matches = await this.trigramMatches(query))) {
        // Few enough users contain it: fetch those (and a subject match), sorted; bounded by TRIGRAM_CANDIDATES.
        qb.where(
          new Brackets((w) => {
            if (matches!.length) w.where('u.id IN (:...matches)', { matches });
            w.orWhere('u.id IN (SELECT i.user_id FROM identities i WHERE i.subject = :subject)', { subject: query });
          }),
        );
      } else if (query) {
        // Walk newest first and stop when the page is full: quick when many match (or on PostgreSQL, where pg_trgm
        // indexes serve this LIKE); a scan when the query is too short for trigrams.
        qb.where(
          new Brackets((w) =>
            w
              .where("LOWER(u.email) LIKE :like ESCAPE '!'")
              .orWhere("LOWER(u.name) LIKE :like ESCAPE '!'")
              .orWhere('u.id IN (SELECT i.user_id FROM identities i WHERE i.subject = :subject)'),
          ),
          { like: likePattern(query.toLowerCase()), subject: query },
        );
      }
      // Parameters named apart from the search's own: a cursor only ever says where the previous page ended.
      if (after)
        qb.andWhere('(u.created_at < :afterCreatedAt OR (u.created_at = :afterCreatedAt AND u.id < :afterId))', {
          afterCreatedAt: after.createdAt,
          afterId: after.id,
        });
      return qb.orderBy('u.created_at', 'DESC').addOrderBy('u.id', 'DESC').take(limit).getMany();
    });
  }

  /**
   * SQLite: the ids of users whose email or name contains `query`, from the trigram index (migration 1764600000000),
   * or undefined when that cannot answer (query under 3 characters, PostgreSQL) or more than TRIGRAM_CANDIDATES
   * match (then the newest-first walk fills a page sooner than sorting them all).
   */
  private async trigramMatches(query: string): Promise<string[] | undefined> {
    if (this.database.postgres || [...query].length < 3) return undefined;
    const { rows } = await this.database.sql<{ user_id: string }>(
      `SELECT ids.user_id FROM users_search s JOIN users_search_ids ids ON ids.search_rowid = s.rowid
        WHERE users_search MATCH :phrase LIMIT ${TRIGRAM_CANDIDATES + 1}`,
      // One FTS5 phrase: the exact substring, in either column (case folded by the trigram tokenizer).
      { phrase: `"${query.replaceAll('"', '""')}"` },
    );
    return rows.length > TRIGRAM_CANDIDATES ? undefined : rows.map((r) => r.user_id);
  }
}
