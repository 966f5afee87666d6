import { Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import type { EntityManager } from 'typeorm';
import type { ProviderProfile } from './provider-profile.js';
import { AuditService } from '../audit/audit.service.js';
import type { RequestContext } from '../http/request-context.js';
import { Clock } from '../common/clock.js';
import { DomainError } from '../common/domain-error.js';
import { InjectConfig } from '../config/config.module.js';
import type { ResolvedConfig } from '../config/app-secret.js';
import { Db } from '../database/db.service.js';
import { isUniqueViolation } from '../database/errors.js';
import { Identity } from './identity.entity.js';
import { decideLinking, needsEmailOwners } from './linking-policy.js';
import { LastAdminRule } from './last-admin.js';
import { isAdmin, mapProviderRoles, rolesAfterSignIn, sameRoles } from './roles.js';
import { RevocationsService } from '../tokens/revocations.service.js';
import { User } from './user.entity.js';

/** A refused sign-in that concerns a known account, so the audit row can name it. */
class AccountRefused extends DomainError {
  constructor(
    readonly userId: string,
    code: 'account_disabled',
    description: string,
  ) {
    super(code, description);
  }
}

export interface SignInResult {
  user: User;
  identity: Identity;
}

@Injectable()
export class AccountsService {
  constructor(
    private readonly db: Db,
    private readonly audit: AuditService,
    private readonly revocations: RevocationsService,
    @InjectConfig() private readonly config: ResolvedConfig,
    private readonly clock: Clock,
    private readonly lastAdmin: LastAdminRule,
  ) {}

  /**
   * Finds or creates the account for a provider identity, as the linking policy decides, and refreshes the stored
   * profile. Two first sign-ins of one identity at once race on the (provider, subject) unique key; the loser
   * retries and finds the winner's identity.
   */
  async signIn(profile: ProviderProfile, opts: { linkUserId?: string; ctx: RequestContext }): Promise<SignInResult> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.db.transaction((m) => this.signInOnce(m, profile, opts));
      } catch (e) {
        if (attempt === 0 && isUniqueViolation(e)) continue;
        if (e instanceof DomainError) {
          await this.audit.record({
            type: e.code === 'identity_already_linked' ? 'link_refused' : 'sign_in_failed',
            userId: e instanceof AccountRefused ? e.userId : (opts.linkUserId ?? null),
            provider: profile.provider,
            reason: e.code,
            ...opts.ctx,
            details: { subject: profile.subject },
          });
        }
        throw e;
      }
    }
  }

  findUser(id: string): Promise<User | null> {
    return this.db.run(async (m) => (await this.db.findRow(m, User, { id })) ?? null);
  }

  /**
   * Removes one identity of a user, unless it is their last way to sign in (409 last_identity), or it maps the admin
   * role of the last admin (409 last_admin: the provider roles are re-synced without it). The user row is touched
   * first, after the last-admin lock: on PostgreSQL that row lock makes two concurrent unlinks of the same user take
   * turns, so they cannot both see "two identities left" and remove both.
   */
  async unlink(userId: string, identityId: string, ctx: RequestContext, actorId: string | null = userId): Promise<void> {
    await this.db.transaction(async (m) => {
      await this.lastAdmin.lock(m);
      const locked = await m.update(User, { id: userId }, { updatedAt: this.clock.now() });
      if (locked.affected !== 1) throw new DomainError('not_found', 'no such user');
      const identity = await m.findOneBy(Identity, { id: identityId, userId });
      if (!identity) throw new DomainError('not_found', 'no such identity for this user');
      if ((await m.countBy(Identity, { userId })) <= 1) {
        throw new DomainError('last_identity', 'this is the only way to sign in to this account; link another provider first');
      }
      await m.delete(Identity, { id: identityId });
      await this.audit.record(
        {
          type: 'identity_unlinked',
          userId,
          actorId,
          provider: identity.provider,
          ...ctx,
          details: { identityId, subject: identity.subject },
        },
        m,
      );
      const user = await m.findOneByOrFail(User, { id: userId });
      const before = { ...user };
      await this.syncProviderRoles(m, user, ctx, actorId);
      await this.lastAdmin.keep(m, before, isAdmin(user));
    });
  }

  identitiesOf(userId: string): Promise<Identity[]> {
    return this.db.run((m) => m.find(Identity, { where: { userId }, order: { linkedAt: 'ASC' } }));
  }

  private async signInOnce(
    m: EntityManager,
    profile: ProviderProfile,
    opts: { linkUserId?: string; ctx: RequestContext },
  ): Promise<SignInResult> {
    const now = this.clock.now();
    const existing = await this.db.findRow(m, Identity, { provider: profile.provider, subject: profile.subject });
    const facts = {
      existingIdentityUserId: existing?.userId ?? null,
      linkingUserId: opts.linkUserId ?? null,
      email: profile.email,
      emailVerified: profile.emailVerified,
      autoLinkVerifiedEmail: this.config.autoLinkVerifiedEmail,
    };
    const verifiedEmailOwners = needsEmailOwners(facts)
      ? (await m.find(User, { select: { id: true }, where: { email: profile.email!, emailVerified: true }, take: 2 })).map((u) => u.id)
      : [];
    const decision = decideLinking({ ...facts, verifiedEmailOwners });
    if (decision.action === 'refuse') {
      throw new DomainError(decision.code, 'this account at the provider is already linked to another user');
    }

    let user: User;
    if (decision.action === 'create_account') {
      user = {
        id: randomUUID(),
        email: profile.email,
        emailVerified: profile.emailVerified,
        name: profile.name,
        picture: profile.picture,
        roles: rolesAfterSignIn([], profile.email, profile.emailVerified, this.config.adminEmails),
        providerRoles: [],
        disabled: false,
        createdAt: now,
        updatedAt: now,
      };
      await m.insert(User, user);
      await this.audit.record(
        { type: 'account_created', userId: user.id, provider: profile.provider, reason: decision.rule, ...opts.ctx },
        m,
      );
    } else {
      const found = await this.db.findRow(m, User, { id: decision.userId });
      if (!found) throw new DomainError('invalid_state', 'the account for this sign-in no longer exists');
      user = found;
      if (user.disabled) throw new AccountRefused(user.id, 'account_disabled', 'this account is disabled');
      this.refreshUser(user, profile, now);
      await this.db.updateRows(
        m,
        User,
        { id: user.id },
        { email: user.email, emailVerified: user.emailVerified, name: user.name, picture: user.picture, roles: user.roles, updatedAt: now },
      );
    }

    const fields = {
      email: profile.email,
      emailVerified: profile.emailVerified,
      name: profile.name,
      picture: profile.picture,
      claims: profile.claims,
      lastSignInAt: now,
      mappedRoles: this.mappedRoles(profile),
    };
    let identity: Identity;
    if (existing) {
      identity = { ...existing, ...fields };
      await this.db.updateRows(m, Identity, { id: existing.id }, fields);
    } else {
      identity = { id: randomUUID(), userId: user.id, provider: profile.provider, subject: profile.subject, linkedAt: now, ...fields };
      await this.db.insertRow(m, Identity, identity);
      if (decision.action === 'link') {
        await this.audit.record(
          {
            type: 'identity_linked',
            userId: user.id,
            provider: profile.provider,
            reason: decision.rule,
            ...opts.ctx,
            details: { identityId: identity.id },
          },
          m,
        );
      }
    }
    // The user's provider roles are the union over their identities: unchanged when this identity's are.
    if (!existing || !sameRoles(existing.mappedRoles, fields.mappedRoles)) await this.syncProviderRoles(m, user, opts.ctx);
    await this.audit.record(
      {
        type: 'sign_in',
        userId: user.id,
        provider: profile.provider,
        reason: decision.rule,
        ...opts.ctx,
        details: { identityId: identity.id },
      },
      m,
    );
    return { user, identity };
  }

  /** The identity's local roles from its provider's roles claim; none when the provider has no roles claim. */
  private mappedRoles(profile: ProviderProfile): string[] {
    const provider = this.config.providers.find((p) => p.id === profile.provider);
    if (!profile.providerRoles || provider?.type !== 'oidc') return [];
    return mapProviderRoles(profile.providerRoles, provider.roleMap);
  }

  /**
   * Recomputes the user's provider roles as the union over their identities (so a sign-in through one provider
   * never drops what another grants). A role lost this way ends the user's older access tokens.
   */
  async syncProviderRoles(m: EntityManager, user: User, ctx: RequestContext, actorId: string | null = null): Promise<void> {
    const identities = await m.find(Identity, { select: { mappedRoles: true }, where: { userId: user.id } });
    const next = [...new Set(identities.flatMap((i) => i.mappedRoles))].sort();
    const before = [...user.providerRoles].sort();
    if (sameRoles(next, before)) return;
    user.providerRoles = next;
    await m.update(User, { id: user.id }, { providerRoles: next });
    await this.audit.record(
      { type: 'role_changed', userId: user.id, actorId, reason: 'provider_roles_synced', ...ctx, details: { from: before, to: next } },
      m,
    );
    if (before.some((r) => !next.includes(r))) await this.revocations.revokeUserTokens(user.id, m);
  }

  /**
   * Profile fields follow the latest sign-in, but a verified email is never replaced by an unverified one, and
   * ADMIN_EMAILS is re-applied so an operator's change takes effect at the next sign-in.
   */
  private refreshUser(user: User, profile: ProviderProfile, now: number): void {
    if (profile.email && (profile.emailVerified || !user.emailVerified)) {
      user.email = profile.email;
      user.emailVerified = profile.emailVerified;
    }
    user.name = profile.name ?? user.name;
    user.picture = profile.picture ?? user.picture;
    user.roles = rolesAfterSignIn(user.roles, profile.email, profile.emailVerified, this.config.adminEmails);
    user.updatedAt = now;
  }
}
