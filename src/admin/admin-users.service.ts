import { Injectable } from '@nestjs/common';
import { Brackets, type EntityManager } from 'typeorm';
import { AccountsService } from '../accounts/accounts.service.js';
import { Identity } from '../accounts/identity.entity.js';
import { LastAdminRule } from '../accounts/last-admin.js';
import { isAdmin, sameRoles } from '../accounts/roles.js';
import { effectiveRoles } from '../tokens/token-roles.js';
import { User } from '../accounts/user.entity.js';
import { AuditService } from '../audit/audit.service.js';
import type { RequestContext } from '../http/request-context.js';
import { Clock } from '../common/clock.js';
import { decodeCursor, encodeCursor, likePattern } from '../common/cursor.js';
import { lowerCaseAscii } from '../common/email.js';
import { DomainError } from '../common/domain-error.js';
import { Db } from '../database/db.service.js';
import { isoTime } from '../common/time.js';
import { RevocationsService } from '../tokens/revocations.service.js';
import { SessionsService } from '../tokens/sessions.service.js';

function userSummary(u: User) {
  return {
    id: u.id,
    email: u.email,
    emailVerified: u.emailVerified,
    name: u.name,
    picture: u.picture,
    roles: effectiveRoles(u),
    disabled: u.disabled,
    createdAt: isoTime(u.createdAt),
  };
}

const notFound = () => new DomainError('not_found', 'no such user');

/** The admin API's work over accounts, sessions and the audit trail. Every change is audited with its actor. */
/** A whole email address: searched by equality, through the index. */
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
/** Above this many trigram matches, sorting them all costs more than walking the newest users until a page fills. */
const TRIGRAM_CANDIDATES = 200;

@Injectable()
export class AdminUsersService {
  constructor(
    private readonly db: Db,
    private readonly accounts: AccountsService,
    private readonly sessions: SessionsService,
    private readonly revocations: RevocationsService,
    private readonly audit: AuditService,
    private readonly clock: Clock,
    private readonly lastAdmin: LastAdminRule,
  ) {}

  /**
   * Newest first, keyset-paginated on (created_at, id): every user that exists when the listing starts appears
   * exactly once across the pages, however many are added meanwhile.
   */
  async list(query: string | undefined, limit = 20, cursor?: string) {
    const after = decodeCursor(cursor, { c: 'integer', i: 'string' });
    const rows = await this.db.run(async (m) => {
      const qb = m.createQueryBuilder(User, 'u');
      let matches: string[] | undefined;
      if (query && EMAIL.test(query)) {
        // A whole email address is looked up, not scanned for (emails are stored ASCII-lower-cased, and indexed).
        qb.where(
          new Brackets((w) =>
            w.where('u.email = :email').orWhere('u.id IN (SELECT i.user_id FROM identities i WHERE i.subject = :subject)'),
          ),
          { email: lowerCaseAscii(query), subject: query },
        );
      } else if (query && (matches = await this.trigramMatches(m, query))) {
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
          afterCreatedAt: after.c,
          afterId: after.i,
        });
      return qb
        .orderBy('u.created_at', 'DESC')
        .addOrderBy('u.id', 'DESC')
        .take(limit + 1)
        .getMany();
    });
    const page = rows.slice(0, limit);
    const last = page.at(-1);
    return {
      items: page.map(userSummary),
      nextCursor: rows.length > limit && last ? encodeCursor({ c: last.createdAt, i: last.id }) : null,
    };
  }

  /**
   * SQLite: the ids of users whose email or name contains `query`, from the trigram index (migration 1764600000000),
   * or undefined when that cannot answer (query under 3 characters, PostgreSQL) or more than TRIGRAM_CANDIDATES
   * match (then the newest-first walk fills a page sooner than sorting them all).
   */
  private async trigramMatches(m: EntityManager, query: string): Promise<string[] | undefined> {
    if (this.db.postgres || [...query].length < 3) return undefined;
    const { rows } = await this.db.sql<{ user_id: string }>(
      m,
      `SELECT ids.user_id FROM users_search s JOIN users_search_ids ids ON ids.search_rowid = s.rowid
        WHERE users_search MATCH :phrase LIMIT ${TRIGRAM_CANDIDATES + 1}`,
      // One FTS5 phrase: the exact substring, in either column (case folded by the trigram tokenizer).
      { phrase: `"${query.replaceAll('"', '""')}"` },
    );
    return rows.length > TRIGRAM_CANDIDATES ? undefined : rows.map((r) => r.user_id);
  }

  async get(id: string) {
    const user = await this.accounts.findUser(id);
    if (!user) throw notFound();
    const [identities, sessions] = await Promise.all([this.accounts.identitiesOf(id), this.sessions.listActive(id)]);
    return {
      ...userSummary(user),
      assignedRoles: user.roles,
      providerRoles: user.providerRoles,
      updatedAt: isoTime(user.updatedAt),
      identities: identities.map((i) => ({
        id: i.id,
        provider: i.provider,
        subject: i.subject,
        email: i.email,
        emailVerified: i.emailVerified,
        name: i.name,
        mappedRoles: i.mappedRoles,
        linkedAt: isoTime(i.linkedAt),
        lastSignInAt: isoTime(i.lastSignInAt),
      })),
      sessions: sessions.map((s) => ({
        id: s.id,
        createdAt: isoTime(s.createdAt),
        lastUsedAt: isoTime(s.lastUsedAt),
        expiresAt: isoTime(s.expiresAt),
        userAgent: s.userAgent,
        ip: s.ip,
      })),
    };
  }

  /** Roles (the assigned ones) and disabled; roles lost or disabling end the user's tokens at once. */
  async update(id: string, change: { roles?: string[]; disabled?: boolean }, actorId: string, ctx: RequestContext) {
    await this.db.transaction(async (m) => {
      await this.lastAdmin.lock(m);
      const user = await this.lockUser(m, id);
      const next = { ...user, roles: change.roles ?? user.roles, disabled: change.disabled ?? user.disabled };
      await this.lastAdmin.keep(m, user, isAdmin(next));
      const now = this.clock.now();
      await m.update(User, { id }, { roles: next.roles, disabled: next.disabled, updatedAt: now });
      if (change.roles && !sameRoles(change.roles, user.roles)) {
        await this.audit.record(
          { type: 'role_changed', userId: id, actorId, reason: 'assigned', ...ctx, details: { from: user.roles, to: change.roles } },
          m,
        );
        if (user.roles.some((r) => !change.roles!.includes(r))) await this.revocations.revokeUserTokens(id, m);
      }
      if (change.disabled === true && !user.disabled) {
        await this.sessions.revokeAllOf(m, id, 'user_disabled');
        await this.audit.record({ type: 'user_disabled', userId: id, actorId, ...ctx }, m);
      } else if (change.disabled === false && user.disabled) {
        await this.audit.record({ type: 'user_enabled', userId: id, actorId, ...ctx }, m);
      }
    });
    return this.get(id);
  }

  /** Deletes the user; identities and sessions go with it (foreign keys), audit rows stay. */
  async remove(id: string, actorId: string, ctx: RequestContext): Promise<void> {
    await this.db.transaction(async (m) => {
      await this.lastAdmin.lock(m);
      const user = await this.lockUser(m, id);
      await this.lastAdmin.keep(m, user, false);
      await this.sessions.revokeAllOf(m, id, 'user_deleted');
      await m.delete(User, { id });
      await this.audit.record({ type: 'user_deleted', userId: id, actorId, ...ctx, details: { email: user.email } }, m);
    });
  }

  async removeIdentity(id: string, identityId: string, actorId: string, ctx: RequestContext): Promise<void> {
    await this.accounts.unlink(id, identityId, ctx, actorId);
  }

  async revokeSessions(id: string, actorId: string, ctx: RequestContext): Promise<{ revoked: number }> {
    return this.db.transaction(async (m) => {
      await this.lockUser(m, id);
      const revoked = await this.sessions.revokeAllOf(m, id, 'revoked_by_admin');
      await this.audit.record(
        { type: 'session_revoked', userId: id, actorId, reason: 'all sessions', ...ctx, details: { count: revoked } },
        m,
      );
      return { revoked };
    });
  }

  /**
   * Merges `sourceId` into `targetId`: identities and assigned roles move, the source's sessions end, the source
   * account is deleted, and both sides are recorded in the audit trail.
   */
  async merge(targetId: string, sourceId: string, actorId: string, ctx: RequestContext) {
    if (targetId === sourceId) throw new DomainError('invalid_request', 'an account cannot be merged into itself');
    await this.db.transaction(async (m) => {
      await this.lastAdmin.lock(m);
      const target = await this.lockUser(m, targetId);
      const source = await this.lockUser(m, sourceId);
      if (isAdmin(source) && !isAdmin({ ...target, roles: [...target.roles, ...source.roles] }))
        await this.lastAdmin.keep(m, source, false);
      const moved = await m.find(Identity, { where: { userId: sourceId } });
      await m.update(Identity, { userId: sourceId }, { userId: targetId });
      const roles = [...new Set([...target.roles, ...source.roles])];
      await m.update(User, { id: targetId }, { roles, updatedAt: this.clock.now() });
      await this.sessions.revokeAllOf(m, sourceId, 'merged');
      await m.delete(User, { id: sourceId });
      const details = {
        targetUserId: targetId,
        sourceUserId: sourceId,
        identities: moved.map((i) => ({ id: i.id, provider: i.provider, subject: i.subject })),
        roles,
      };
      await this.audit.record({ type: 'users_merged', userId: targetId, actorId, reason: 'merged_into', ...ctx, details }, m);
      await this.audit.record({ type: 'users_merged', userId: sourceId, actorId, reason: 'merged_away', ...ctx, details }, m);
      await this.accounts.syncProviderRoles(m, { ...target, roles }, ctx, actorId);
    });
    return this.get(targetId);
  }

  /** Takes the user's row lock (PostgreSQL) for the rest of the transaction, and returns the user. */
  private async lockUser(m: EntityManager, id: string): Promise<User> {
    const touched = await m.update(User, { id }, { updatedAt: this.clock.now() });
    if (touched.affected !== 1) throw notFound();
    return m.findOneByOrFail(User, { id });
  }
}
