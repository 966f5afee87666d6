import { Injectable } from '@nestjs/common';
import type { Grant, KoaContextWithOIDC } from 'oidc-provider';
import { AuditService } from '../audit/audit.service.js';
import { Clock } from '../common/clock.js';
import { DomainError } from '../common/domain-error.js';
import { isoTime } from '../common/time.js';
import { Database } from '../database/db.service.js';
import type { RequestContext } from '../http/request-context.js';
import { SessionsService } from '../tokens/sessions.service.js';
import type { SessionClients } from '../tokens/session-clients.js';
import { ConsentsRepository, type ConsentRow } from './consents.repository.js';
import { OidcRepository } from './oidc.repository.js';

/** Who revokes a consent, for the audit trail: the person, or an admin. */
export interface RevokedConsentBy {
  actorId: string;
  ctx: RequestContext;
}

/** One entry of "Apps with access" (GET /me/apps, GET /admin/users/:id/apps). */
export interface AppWithAccess {
  clientId: string;
  /** null once the client is deleted. */
  name: string | null;
  scopes: string[];
  claims: string[];
  firstGrantedAt: string;
  lastGrantedAt: string;
  /** The last use of any of the app's sessions for this person; null before its first token. */
  lastUsedAt: string | null;
}

const union = (a: string[], b: string[]) => [...new Set([...a, ...b])];

/**
 * Consent of a person to a third-party client (OIDC Core §3.1.2.4; SECURITY.md O6), Keycloak's "consent required":
 * remembered per person and client, across browsers and sessions, for the scopes and claims allowed; listed and revoked
 * under "Apps with access". oidc-provider's grants are made from it (ConsentGrants) and destroyed with it.
 */
@Injectable()
export class ConsentsService implements SessionClients {
  constructor(
    private readonly repo: ConsentsRepository,
    private readonly oidc: OidcRepository,
    private readonly sessions: SessionsService,
    private readonly audit: AuditService,
    private readonly database: Database,
    private readonly clock: Clock,
  ) {}

  remembered(userId: string, clientId: string): Promise<ConsentRow | undefined> {
    return this.repo.find(userId, clientId);
  }

  /** The person allowed these scopes and claims (added to what they allowed before), audited as consent_given. */
  async give(userId: string, clientId: string, allowed: { scopes: string[]; claims: string[] }, ctx: RequestContext): Promise<ConsentRow> {
    return this.database.transaction(async () => {
      const now = this.clock.now();
      const before = await this.repo.find(userId, clientId);
      const consent: ConsentRow = {
        userId,
        clientId,
        scopes: union(before?.scopes ?? [], allowed.scopes),
        claims: union(before?.claims ?? [], allowed.claims),
        createdAt: before?.createdAt ?? now,
        updatedAt: now,
      };
      await this.repo.save(consent);
      await this.audit.record({
        type: 'consent_given',
        userId,
        actorId: userId,
        ...ctx,
        details: { clientId, scopes: allowed.scopes, claims: allowed.claims },
      });
      return consent;
    });
  }

  /**
   * The person pressed Deny (or sent anything but Allow) on the consent page: nothing is remembered, the client gets
   * access_denied (OIDC Core §3.1.2.6). Audited as consent_given is, so the trail shows a refusal as well as an Allow
   * (SECURITY.md O6); `scopes` and `claims` are what the page asked.
   */
  async deny(userId: string, clientId: string, asked: { scopes: string[]; claims: string[] }, ctx: RequestContext): Promise<void> {
    await this.audit.record({
      type: 'consent_denied',
      userId,
      actorId: userId,
      ...ctx,
      details: { clientId, scopes: asked.scopes, claims: asked.claims },
    });
  }

  /** A grant of oidc-provider made from the consent: destroyed when the consent is revoked. */
  trackGrant(grantId: string, userId: string, clientId: string): Promise<void> {
    return this.repo.addGrant(grantId, userId, clientId);
  }

  /**
   * oidc-provider's loadExistingGrant for a third-party client: the grant is what the person consented to, read from
   * our record, never more. None (no consent yet, or revoked): oidc-provider starts an empty grant, its consent prompt
   * asks (our consent page), and `prompt=none` answers consent_required at the redirect URI (OIDC Core §3.1.2.6).
   * Scopes asked beyond the consent are missing from the grant, so the prompt asks for those only (op_scopes_missing,
   * rs_scopes_missing). A grant left in the browser's session is reused when it is this person's for this client.
   */
  async grantFromConsent(
    ctx: KoaContextWithOIDC,
    existing: Grant | undefined,
    known: { audience: string; oidcScopes: readonly string[]; resourceScopes: readonly string[] },
  ): Promise<Grant | undefined> {
    const accountId = ctx.oidc.session!.accountId!;
    const clientId = ctx.oidc.client!.clientId;
    const consent = await this.repo.find(accountId, clientId);
    if (!consent) return undefined;
    const grant =
      existing?.accountId === accountId && existing.clientId === clientId ? existing : new ctx.oidc.provider.Grant({ accountId, clientId });
    const oidcScopes = consent.scopes.filter((s) => known.oidcScopes.includes(s));
    const resourceScopes = consent.scopes.filter((s) => known.resourceScopes.includes(s));
    if (oidcScopes.length) grant.addOIDCScope(oidcScopes.join(' '));
    if (resourceScopes.length) grant.addResourceScope(known.audience, resourceScopes.join(' '));
    if (consent.claims.length) grant.addOIDCClaims(consent.claims);
    const grantId = await grant.save();
    await this.trackGrant(grantId, accountId, clientId);
    return grant;
  }

  async list(userId: string): Promise<AppWithAccess[]> {
    return (await this.repo.listOf(userId)).map((c) => ({
      clientId: c.clientId,
      name: c.clientName,
      scopes: c.scopes,
      claims: c.claims,
      firstGrantedAt: isoTime(c.createdAt),
      lastGrantedAt: isoTime(c.updatedAt),
      lastUsedAt: c.lastUsedAt === null ? null : isoTime(c.lastUsedAt),
    }));
  }

  /**
   * Revokes the consent: its grants go with their codes and refresh tokens (oidc_payloads), the client's sessions of
   * ours for this person end (their access tokens through the revocation feed, on every instance; a refresh finds its
   * session ended), and the next sign-in asks again. 404 not_found when there is no consent to revoke.
   */
  async revoke(userId: string, clientId: string, by: RevokedConsentBy): Promise<void> {
    const reason = by.actorId === userId ? 'revoked by the person' : 'revoked by an admin';
    await this.database.transaction(async () => {
      const consent = await this.repo.find(userId, clientId);
      if (!consent || !(await this.repo.delete(userId, clientId))) throw new DomainError('not_found', 'no such app with access');
      for (const grantId of await this.repo.grantsOf(userId, clientId)) {
        await this.oidc.revokeByGrantId(grantId);
        await this.oidc.destroy('Grant', grantId);
      }
      await this.repo.deleteGrants(userId, clientId);
      for (const sessionId of await this.repo.sessionsOf(userId, clientId)) {
        await this.sessions.revoke(sessionId, 'consent_revoked', by);
      }
      await this.audit.record({
        type: 'consent_revoked',
        userId,
        actorId: by.actorId,
        reason,
        ...by.ctx,
        details: { clientId, scopes: consent.scopes, claims: consent.claims },
      });
    });
  }

  /** SessionClients (tokens/session-clients.ts): the person's sessions that belong to a client, with its name. */
  async of(userId: string) {
    const rows = await this.repo.clientSessionsOf(userId);
    return new Map(rows.map((r) => [r.sessionId, { clientId: r.clientId, name: r.clientName }]));
  }
}
