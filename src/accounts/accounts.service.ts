import { Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import type { ProviderProfile } from './provider-profile.js';
import { AuditService } from '../audit/audit.service.js';
import type { RequestContext } from '../http/request-context.js';
import { Clock } from '../common/clock.js';
import { DomainError } from '../common/domain-error.js';
import { InjectConfig } from '../config/config.module.js';
import type { ResolvedConfig } from '../config/app-secret.js';
import { Database } from '../database/db.service.js';
import { isUniqueViolation } from '../database/errors.js';
import type { Identity } from './identity.entity.js';
import { decideLinking, needsEmailOwners, type LinkingDecision } from './linking-policy.js';
import { LastAdminRule } from './last-admin.js';
import { isAdmin, mapProviderRoles, rolesAfterSignIn, sameRoles } from './roles.js';
import { RevocationsService } from '../tokens/revocations.service.js';
import type { User } from './user.entity.js';
import { UsersRepository } from './users.repository.js';

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

interface SignInOptions {
  linkUserId?: string;
  ctx: RequestContext;
}

/** A decision that signs in to an account that exists (signs in to it, or links a new identity to it). */
type ToAccount = Extract<LinkingDecision, { userId: string }>;
type NewAccount = Extract<LinkingDecision, { action: 'create_account' }>;

@Injectable()
export class AccountsService {
  constructor(
    private readonly database: Database,
    private readonly users: UsersRepository,
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
  async signIn(profile: ProviderProfile, opts: SignInOptions): Promise<SignInResult> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.database.transaction(() => this.signInOnce(profile, opts));
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
    return this.users.findUser(id);
  }

  /**
   * Removes one identity of a user, unless it is their last way to sign in (409 last_identity), or it maps the admin
   * role of the last admin (409 last_admin: the provider roles are re-synced without it). The user row is touched
   * first, after the last-admin lock: on PostgreSQL that row lock makes two concurrent unlinks of the same user take
   * turns, so they cannot both see "two identities left" and remove both.
   */
  async unlink(userId: string, identityId: string, ctx: RequestContext, actorId: string | null = userId): Promise<void> {
    await this.database.transaction(async () => {
      await this.lastAdmin.lock();
      if (!(await this.users.updateUser(userId, { updatedAt: this.clock.now() }))) throw new DomainError('not_found', 'no such user');
      const identity = await this.users.findIdentityOf(userId, identityId);
      if (!identity) throw new DomainError('not_found', 'no such identity for this user');
      if ((await this.users.countIdentities(userId)) <= 1) {
        throw new DomainError('last_identity', 'this is the only way to sign in to this account; link another provider first');
      }
      await this.users.deleteIdentity(identityId);
      await this.audit.record({
        type: 'identity_unlinked',
        userId,
        actorId,
        provider: identity.provider,
        ...ctx,
        details: { identityId, subject: identity.subject },
      });
      const user = (await this.users.findUser(userId))!;
      const before = { ...user };
      await this.syncProviderRoles(user, ctx, actorId);
      await this.lastAdmin.keep(before, isAdmin(user));
    });
  }

  identitiesOf(userId: string): Promise<Identity[]> {
    return this.users.identitiesOf(userId);
  }

  /**
   * One attempt at a sign-in, in one transaction: decide where the identity goes, then create or refresh the
   * account, then create or refresh the identity, then re-sync provider roles if this identity's changed, and audit.
   */
  private async signInOnce(profile: ProviderProfile, opts: SignInOptions): Promise<SignInResult> {
    const now = this.clock.now();
    const existing = await this.users.findIdentity(profile.provider, profile.subject);
    const decision = await this.decide(profile, existing, opts.linkUserId);
    const user =
      decision.action === 'create_account'
        ? await this.createAccount(profile, decision, now, opts.ctx)
        : await this.refreshAccount(profile, decision, now);
    const identity = await this.saveIdentity(user, profile, existing, decision, now, opts.ctx);
    // The user's provider roles are the union over their identities: unchanged when this identity's are.
    if (!existing || !sameRoles(existing.mappedRoles, identity.mappedRoles)) await this.syncProviderRoles(user, opts.ctx);
    await this.audit.record({
      type: 'sign_in',
      userId: user.id,
      provider: profile.provider,
      reason: decision.rule,
      ...opts.ctx,
      details: { identityId: identity.id },
    });
    return { user, identity };
  }

  /** The linking policy's decision for this identity (a refusal is thrown); the email is looked up only if it matters. */
  private async decide(
    profile: ProviderProfile,
    existing: Identity | null,
    linkUserId: string | undefined,
  ): Promise<ToAccount | NewAccount> {
    const facts = {
      existingIdentityUserId: existing?.userId ?? null,
      linkingUserId: linkUserId ?? null,
      email: profile.email,
      emailVerified: profile.emailVerified,
      // An email its provider marks as never linkable (Apple's private relay) joins no account by email.
      autoLinkVerifiedEmail: this.config.autoLinkVerifiedEmail && profile.emailLinkable !== false,
    };
    const verifiedEmailOwners = needsEmailOwners(facts) ? await this.users.verifiedEmailOwners(profile.email!) : [];
    const decision = decideLinking({ ...facts, verifiedEmailOwners });
    if (decision.action === 'refuse') {
      throw new DomainError(decision.code, 'this account at the provider is already linked to another user');
    }
    return decision;
  }

  /** A new account from the provider's profile (ADMIN_EMAILS applied), audited with the rule that created it. */
  private async createAccount(profile: ProviderProfile, decision: NewAccount, now: number, ctx: RequestContext): Promise<User> {
    const user: User = {
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
    await this.users.insertUser(user);
    await this.audit.record({ type: 'account_created', userId: user.id, provider: profile.provider, reason: decision.rule, ...ctx });
    return user;
  }

  /** The account the decision names, refused when disabled, its profile refreshed from this sign-in. */
  private async refreshAccount(profile: ProviderProfile, decision: ToAccount, now: number): Promise<User> {
    const user = await this.users.findUser(decision.userId);
    if (!user) throw new DomainError('invalid_state', 'the account for this sign-in no longer exists');
    if (user.disabled) throw new AccountRefused(user.id, 'account_disabled', 'this account is disabled');
    const before = { ...user };
    this.refreshUser(user, profile, now);
    // Only what changed is written: for any UPDATE that names email or name, even with the same value, SQLite rewrites
    // their index entries and runs the search-index trigger (users_search_update), random pages of a large table
    // (BENCHMARKS.md, "Scale": a returning sign-in's account work at 1,000 and 1,000,000 users).
    const change: Partial<User> = { updatedAt: user.updatedAt };
    for (const key of ['email', 'emailVerified', 'name', 'picture'] as const) {
      if (user[key] !== before[key]) Object.assign(change, { [key]: user[key] });
    }
    if (!sameRoles(before.roles, user.roles)) change.roles = user.roles;
    await this.users.updateUser(user.id, change);
    return user;
  }

  /** The identity as of this sign-in: the known one refreshed, or a new one (a link is audited as such). */
  private async saveIdentity(
    user: User,
    profile: ProviderProfile,
    existing: Identity | null,
    decision: LinkingDecision,
    now: number,
    ctx: RequestContext,
  ): Promise<Identity> {
    const fields = {
      email: profile.email,
      emailVerified: profile.emailVerified,
      // A provider may name the person only once (Apple, in its first callback): a later sign-in without a name keeps it.
      name: profile.name ?? existing?.name ?? null,
      picture: profile.picture,
      claims: profile.claims,
      lastSignInAt: now,
      mappedRoles: this.mappedRoles(profile),
    };
    if (existing) {
      // Only what changed, as for the user (refreshAccount): an UPDATE naming `email` rewrites its index entry even
      // with the same value, a random page of a large table.
      const change: Partial<Identity> = { lastSignInAt: now };
      for (const key of ['email', 'emailVerified', 'name', 'picture', 'claims', 'mappedRoles'] as const) {
        if (JSON.stringify(fields[key]) !== JSON.stringify(existing[key])) Object.assign(change, { [key]: fields[key] });
      }
      await this.users.updateIdentity(existing.id, change);
      return { ...existing, ...fields };
    }
    const identity = { id: randomUUID(), userId: user.id, provider: profile.provider, subject: profile.subject, linkedAt: now, ...fields };
    await this.users.insertIdentity(identity);
    if (decision.action === 'link') {
      await this.audit.record({
        type: 'identity_linked',
        userId: user.id,
        provider: profile.provider,
        reason: decision.rule,
        ...ctx,
        details: { identityId: identity.id },
      });
    }
    return identity;
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
  syncProviderRoles(user: User, ctx: RequestContext, actorId: string | null = null): Promise<void> {
    return this.database.transaction(async () => {
      const next = [...new Set((await this.users.mappedRolesOf(user.id)).flat())].sort();
      const before = [...user.providerRoles].sort();
      if (sameRoles(next, before)) return;
      user.providerRoles = next;
      await this.users.updateUser(user.id, { providerRoles: next });
      await this.audit.record({
        type: 'role_changed',
        userId: user.id,
        actorId,
        reason: 'provider_roles_synced',
        ...ctx,
        details: { from: before, to: next },
      });
      if (before.some((r) => !next.includes(r))) await this.revocations.revokeUserTokens(user.id);
    });
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
