import { Inject, Injectable, Optional } from '@nestjs/common';
import { AccountsService } from '../accounts/accounts.service.js';
import { LastAdminRule } from '../accounts/last-admin.js';
import { isAdmin, sameRoles } from '../accounts/roles.js';
import { effectiveRoles } from '../tokens/token-roles.js';
import type { User } from '../accounts/user.entity.js';
import { UsersRepository } from '../accounts/users.repository.js';
import { AuditService } from '../audit/audit.service.js';
import type { RequestContext } from '../http/request-context.js';
import { Clock } from '../common/clock.js';
import { decodeCursor, encodeCursor } from '../common/cursor.js';
import { DomainError } from '../common/domain-error.js';
import { Database } from '../database/db.service.js';
import { isoTime } from '../common/time.js';
import { RevocationsService } from '../tokens/revocations.service.js';
import { SessionsService } from '../tokens/sessions.service.js';
import { SESSION_CLIENTS, type SessionClients } from '../tokens/session-clients.js';

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
@Injectable()
export class AdminUsersService {
  constructor(
    private readonly database: Database,
    private readonly users: UsersRepository,
    private readonly accounts: AccountsService,
    private readonly sessions: SessionsService,
    private readonly revocations: RevocationsService,
    private readonly audit: AuditService,
    private readonly clock: Clock,
    private readonly lastAdmin: LastAdminRule,
    @Optional() @Inject(SESSION_CLIENTS) private readonly clients?: SessionClients,
  ) {}

  /**
   * Newest first, keyset-paginated on (created_at, id): every user that exists when the listing starts appears
   * exactly once across the pages, however many are added meanwhile.
   */
  async list(query: string | undefined, limit = 20, cursor?: string) {
    const after = decodeCursor(cursor, { c: 'integer', i: 'string' });
    const rows = await this.users.search(query, after && { createdAt: after.c, id: after.i }, limit + 1);
    const page = rows.slice(0, limit);
    const last = page.at(-1);
    return {
      items: page.map(userSummary),
      nextCursor: rows.length > limit && last ? encodeCursor({ c: last.createdAt, i: last.id }) : null,
    };
  }

  async get(id: string) {
    const user = await this.accounts.findUser(id);
    if (!user) throw notFound();
    const [identities, sessions, clients] = await Promise.all([
      this.accounts.identitiesOf(id),
      this.sessions.listActive(id),
      this.clients?.of(id),
    ]);
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
        // An app's session: its browser session, and its OpenID Provider client (tokens/session-clients.ts).
        browserSessionId: s.browserSessionId,
        client: clients?.get(s.id) ?? null,
      })),
    };
  }

  /** Roles (the assigned ones) and disabled; roles lost or disabling end the user's tokens at once. */
  async update(id: string, change: { roles?: string[]; disabled?: boolean }, actorId: string, ctx: RequestContext) {
    await this.database.transaction(async () => {
      await this.lastAdmin.lock();
      const user = await this.lockUser(id);
      const next = { ...user, roles: change.roles ?? user.roles, disabled: change.disabled ?? user.disabled };
      await this.lastAdmin.keep(user, isAdmin(next));
      await this.users.updateUser(id, { roles: next.roles, disabled: next.disabled, updatedAt: this.clock.now() });
      if (change.roles && !sameRoles(change.roles, user.roles)) {
        await this.audit.record({
          type: 'role_changed',
          userId: id,
          actorId,
          reason: 'assigned',
          ...ctx,
          details: { from: user.roles, to: change.roles },
        });
        if (user.roles.some((r) => !change.roles!.includes(r))) await this.revocations.revokeUserTokens(id);
      }
      if (change.disabled === true && !user.disabled) {
        await this.sessions.revokeAllOf(id, 'user_disabled');
        await this.audit.record({ type: 'user_disabled', userId: id, actorId, ...ctx });
      } else if (change.disabled === false && user.disabled) {
        await this.audit.record({ type: 'user_enabled', userId: id, actorId, ...ctx });
      }
    });
    return this.get(id);
  }

  /** Deletes the user; identities and sessions go with it (foreign keys), audit rows stay. */
  async remove(id: string, actorId: string, ctx: RequestContext): Promise<void> {
    await this.database.transaction(async () => {
      await this.lastAdmin.lock();
      const user = await this.lockUser(id);
      await this.lastAdmin.keep(user, false);
      await this.sessions.revokeAllOf(id, 'user_deleted');
      await this.users.deleteUser(id);
      await this.audit.record({ type: 'user_deleted', userId: id, actorId, ...ctx, details: { email: user.email } });
    });
  }

  async removeIdentity(id: string, identityId: string, actorId: string, ctx: RequestContext): Promise<void> {
    await this.accounts.unlink(id, identityId, ctx, actorId);
  }

  async revokeSessions(id: string, actorId: string, ctx: RequestContext): Promise<{ revoked: number }> {
    return this.database.transaction(async () => {
      await this.lockUser(id);
      const revoked = await this.sessions.revokeAllOf(id, 'revoked_by_admin');
      await this.audit.record({
        type: 'session_revoked',
        userId: id,
        actorId,
        reason: 'all sessions',
        ...ctx,
        details: { count: revoked },
      });
      return { revoked };
    });
  }

  /**
   * Merges `sourceId` into `targetId`: identities and assigned roles move, the source's sessions end, the source
   * account is deleted, and both sides are recorded in the audit trail.
   */
  async merge(targetId: string, sourceId: string, actorId: string, ctx: RequestContext) {
    if (targetId === sourceId) throw new DomainError('invalid_request', 'an account cannot be merged into itself');
    await this.database.transaction(async () => {
      await this.lastAdmin.lock();
      const target = await this.lockUser(targetId);
      const source = await this.lockUser(sourceId);
      if (isAdmin(source) && !isAdmin({ ...target, roles: [...target.roles, ...source.roles] })) await this.lastAdmin.keep(source, false);
      const moved = await this.users.moveIdentities(sourceId, targetId);
      const roles = [...new Set([...target.roles, ...source.roles])];
      await this.users.updateUser(targetId, { roles, updatedAt: this.clock.now() });
      await this.sessions.revokeAllOf(sourceId, 'merged');
      await this.users.deleteUser(sourceId);
      const details = {
        targetUserId: targetId,
        sourceUserId: sourceId,
        identities: moved.map((i) => ({ id: i.id, provider: i.provider, subject: i.subject })),
        roles,
      };
      await this.audit.record({ type: 'users_merged', userId: targetId, actorId, reason: 'merged_into', ...ctx, details });
      await this.audit.record({ type: 'users_merged', userId: sourceId, actorId, reason: 'merged_away', ...ctx, details });
      await this.accounts.syncProviderRoles({ ...target, roles }, ctx, actorId);
    });
    return this.get(targetId);
  }

  /** Takes the user's row lock (PostgreSQL) for the rest of the transaction, and returns the user. */
  private async lockUser(id: string): Promise<User> {
    if (!(await this.users.updateUser(id, { updatedAt: this.clock.now() }))) throw notFound();
    return (await this.users.findUser(id))!;
  }
}
