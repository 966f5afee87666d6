import { Injectable } from '@nestjs/common';
import { AuditService, type AuditType } from '../audit/audit.service.js';
import type { RequestContext } from '../http/request-context.js';
import { Clock } from '../common/clock.js';
import { randomToken, safeEqual, sha256 } from '../common/crypto.js';
import { DomainError } from '../common/domain-error.js';
import { isoTime } from '../common/time.js';
import type { ResolvedConfig } from '../config/app-secret.js';
import { InjectConfig } from '../config/config.module.js';
import { Database } from '../database/db.service.js';
import { RevocationsService } from '../tokens/revocations.service.js';
import type { ApiClient } from './api-client.entity.js';
import { ClientsRepository } from './clients.repository.js';
import { oauthMetadata, type ClientAuthMethod, type GrantType, type OAuthMetadataInput } from './oauth-metadata.js';

/** What admins see of a client (RFC 7591 §3.2.1 names); the secret appears only in the answer that created it. */
export interface ClientView {
  client_id: string;
  name: string;
  roles: string[];
  scopes: string[];
  disabled: boolean;
  created_at: string;
  updated_at: string;
  secret_rotated_at: string;
  /** Until when the secret before the last rotation still works; null when it no longer does. */
  previous_secret_expires_at: string | null;
  redirect_uris: string[];
  post_logout_redirect_uris: string[];
  grant_types: GrantType[];
  token_endpoint_auth_method: ClientAuthMethod;
  backchannel_logout_uri: string | null;
  first_party: boolean;
}

export type ClientWithSecret = ClientView & { client_secret: string };

export type ClientInput = { name: string; roles?: string[]; scopes?: string[] } & OAuthMetadataInput;

export interface ClientChange extends Pick<
  OAuthMetadataInput,
  'redirect_uris' | 'post_logout_redirect_uris' | 'backchannel_logout_uri' | 'first_party'
> {
  name?: string;
  roles?: string[];
  scopes?: string[];
  disabled?: boolean;
}

/**
 * Work that must end with a client: called inside the transaction that disables or deletes it, so both commit
 * together. The OpenID Provider (oidc/, which depends on this folder, not the other way) ends the grants and sessions
 * the client holds for people.
 */
export type ClientRetiredHook = (
  clientId: string,
  reason: 'client_disabled' | 'client_deleted',
  by: { actorId: string; ctx: RequestContext },
) => Promise<void>;

/** Compared against when the client id is unknown, so that case costs the same as a wrong secret. */
const NO_SECRET = sha256('no such client');

/**
 * API clients (service accounts) and their secrets. Secrets are 256-bit random, so like refresh tokens they are kept
 * as a plain SHA-256 (nothing to brute-force; OWASP Password Storage Cheat Sheet on high-entropy secrets) and
 * compared in constant time.
 */
@Injectable()
export class ClientsService {
  private readonly retiredHooks: ClientRetiredHook[] = [];

  constructor(
    private readonly database: Database,
    private readonly repository: ClientsRepository,
    private readonly audit: AuditService,
    private readonly revocations: RevocationsService,
    private readonly clock: Clock,
    @InjectConfig() private readonly config: ResolvedConfig,
  ) {}

  /** Registers work to do whenever a client is disabled or deleted (see ClientRetiredHook). */
  whenRetired(hook: ClientRetiredHook): void {
    this.retiredHooks.push(hook);
  }

  /** A public client (`none`) gets no secret (shared/docs/http-api.md); every other one sees its secret here only. */
  async create(input: ClientInput & { token_endpoint_auth_method: 'none' }, actorId: string, ctx: RequestContext): Promise<ClientView>;
  async create(input: ClientInput, actorId: string, ctx: RequestContext): Promise<ClientWithSecret>;
  async create(input: ClientInput, actorId: string, ctx: RequestContext): Promise<ClientView | ClientWithSecret> {
    const oauth = oauthMetadata(input);
    // A public client's row still holds the hash of a secret nobody is told, and authenticate() refuses it anyway.
    const secret = randomToken();
    const now = this.clock.now();
    const client: ApiClient = {
      clientId: `svc-${randomToken(12)}`,
      name: input.name,
      roles: unique(input.roles ?? []),
      scopes: unique(input.scopes ?? []),
      disabled: false,
      secretHash: sha256(secret),
      previousSecretHash: null,
      previousSecretExpiresAt: null,
      secretRotatedAt: now,
      createdAt: now,
      updatedAt: now,
      ...oauth,
      // Today's clients keep NULL (client_credentials only), so their rows read as before.
      grantTypes: input.grant_types || oauth.redirectUris ? oauth.grantTypes : null,
      tokenEndpointAuthMethod: input.token_endpoint_auth_method ? oauth.tokenEndpointAuthMethod : null,
    };
    await this.database.transaction(async () => {
      await this.repository.insert(client);
      await this.record('client_created', client.clientId, actorId, ctx, {
        name: client.name,
        roles: client.roles,
        scopes: client.scopes,
        ...(client.grantTypes ? { oauth: this.oauthView(client) } : {}),
      });
    });
    if (oauth.tokenEndpointAuthMethod === 'none') return this.view(client);
    return { ...this.view(client), client_secret: secret } satisfies ClientWithSecret;
  }

  async list(): Promise<ClientView[]> {
    return (await this.repository.list()).map((c) => this.view(c));
  }

  async get(clientId: string): Promise<ClientView> {
    return this.view(await this.find(clientId));
  }

  /** Disabling, deleting or taking a role away ends the client's access tokens (revocation feed, every instance). */
  async update(clientId: string, change: ClientChange, actorId: string, ctx: RequestContext): Promise<ClientView> {
    return this.database.transaction(async () => {
      const before = await this.find(clientId, true);
      const oauthChange =
        change.redirect_uris !== undefined ||
        change.post_logout_redirect_uris !== undefined ||
        change.backchannel_logout_uri !== undefined ||
        change.first_party !== undefined;
      const current = this.oauthView(before);
      const oauth = oauthChange
        ? oauthMetadata({ ...current, backchannel_logout_uri: current.backchannel_logout_uri ?? undefined, ...change })
        : undefined;
      const after: ApiClient = {
        ...before,
        name: change.name ?? before.name,
        roles: change.roles ? unique(change.roles) : before.roles,
        scopes: change.scopes ? unique(change.scopes) : before.scopes,
        disabled: change.disabled ?? before.disabled,
        updatedAt: this.clock.now(),
        ...(oauth
          ? {
              redirectUris: oauth.redirectUris,
              postLogoutRedirectUris: oauth.postLogoutRedirectUris,
              backchannelLogoutUri: oauth.backchannelLogoutUri,
              firstParty: oauth.firstParty,
            }
          : {}),
      };
      const { name, roles, scopes, disabled, updatedAt, redirectUris, postLogoutRedirectUris, backchannelLogoutUri, firstParty } = after;
      await this.repository.update(clientId, {
        name,
        roles,
        scopes,
        disabled,
        updatedAt,
        redirectUris,
        postLogoutRedirectUris,
        backchannelLogoutUri,
        firstParty,
      });
      const lostRole = before.roles.some((r) => !after.roles.includes(r));
      const lostScope = before.scopes.some((s) => !after.scopes.includes(s));
      if (lostRole || lostScope || (after.disabled && !before.disabled)) await this.revocations.revokeUserTokens(clientId);
      if (after.disabled && !before.disabled) await this.retired(clientId, 'client_disabled', actorId, ctx);
      const type: AuditType = after.disabled === before.disabled ? 'client_updated' : after.disabled ? 'client_disabled' : 'client_enabled';
      await this.record(type, clientId, actorId, ctx, {
        from: { name: before.name, roles: before.roles, scopes: before.scopes, ...(oauth ? { oauth: this.oauthView(before) } : {}) },
        to: { name: after.name, roles: after.roles, scopes: after.scopes, ...(oauth ? { oauth: this.oauthView(after) } : {}) },
      });
      return this.view(after);
    });
  }

  /**
   * A new secret; the current one keeps working for `gracePeriod` seconds (CLIENT_SECRET_GRACE_PERIOD by default) so
   * the app can be redeployed without downtime. 0 ends it at once (a leaked secret); tokens already issued stay valid.
   */
  async rotateSecret(clientId: string, gracePeriod: number | undefined, actorId: string, ctx: RequestContext) {
    const secret = randomToken();
    const grace = gracePeriod ?? this.config.clientSecretGracePeriod;
    return this.database.transaction(async () => {
      const client = await this.find(clientId, true);
      const now = this.clock.now();
      const rotated: ApiClient = {
        ...client,
        secretHash: sha256(secret),
        previousSecretHash: grace > 0 ? client.secretHash : null,
        previousSecretExpiresAt: grace > 0 ? now + grace * 1000 : null,
        secretRotatedAt: now,
        updatedAt: now,
      };
      const { secretHash, previousSecretHash, previousSecretExpiresAt, secretRotatedAt, updatedAt } = rotated;
      await this.repository.update(clientId, { secretHash, previousSecretHash, previousSecretExpiresAt, secretRotatedAt, updatedAt });
      await this.record('client_secret_rotated', clientId, actorId, ctx, { gracePeriod: grace });
      return { ...this.view(rotated), client_secret: secret } satisfies ClientWithSecret;
    });
  }

  async remove(clientId: string, actorId: string, ctx: RequestContext): Promise<void> {
    await this.database.transaction(async () => {
      const client = await this.find(clientId, true);
      await this.repository.delete(clientId);
      await this.revocations.revokeUserTokens(clientId);
      await this.retired(clientId, 'client_deleted', actorId, ctx);
      await this.record('client_deleted', clientId, actorId, ctx, { name: client.name });
    });
  }

  /**
   * The client whose current (or, within its grace period, previous) secret this is; undefined otherwise. Both hashes
   * are always compared, in constant time, whether or not the client exists (RFC 6749 §10.10 and §2.3.1's advice
   * against brute force: the token endpoint also limits failures per IP). A wrong secret for a known client is
   * audited.
   */
  async authenticate(clientId: string, secret: string, ctx: RequestContext): Promise<ApiClient | undefined> {
    const client = await this.repository.find(clientId);
    const presented = sha256(secret);
    const current = safeEqual(presented, client?.secretHash ?? NO_SECRET);
    const stillValid = (client?.previousSecretExpiresAt ?? 0) > this.clock.now();
    const previous = safeEqual(presented, client?.previousSecretHash ?? NO_SECRET) && stillValid;
    // A public client (none) has no secret to present (RFC 6749 §2.1); the hash in its row was never handed out.
    if (client && (current || previous) && client.tokenEndpointAuthMethod !== 'none') return client;
    if (client)
      await this.audit.record({ type: 'client_auth_failed', actorId: clientId, reason: 'wrong secret', ...ctx, details: { clientId } });
    return undefined;
  }

  private async retired(clientId: string, reason: 'client_disabled' | 'client_deleted', actorId: string, ctx: RequestContext) {
    for (const hook of this.retiredHooks) await hook(clientId, reason, { actorId, ctx });
  }

  private async find(clientId: string, forUpdate = false): Promise<ApiClient> {
    const client = await this.repository.find(clientId, { forUpdate });
    if (!client) throw new DomainError('not_found', `no client ${clientId.slice(0, 64)}`);
    return client;
  }

  private record(type: AuditType, clientId: string, actorId: string, ctx: RequestContext, details: object) {
    return this.audit.record({ type, actorId, ...ctx, details: { clientId, ...details } });
  }

  private view(c: ApiClient): ClientView {
    const previousValid = c.previousSecretExpiresAt !== null && c.previousSecretExpiresAt > this.clock.now();
    return {
      client_id: c.clientId,
      name: c.name,
      roles: c.roles,
      scopes: c.scopes,
      disabled: c.disabled,
      created_at: isoTime(c.createdAt),
      updated_at: isoTime(c.updatedAt),
      secret_rotated_at: isoTime(c.secretRotatedAt),
      previous_secret_expires_at: previousValid ? isoTime(c.previousSecretExpiresAt!) : null,
      ...this.oauthView(c),
    };
  }

  private oauthView(c: ApiClient) {
    return {
      redirect_uris: c.redirectUris ?? [],
      post_logout_redirect_uris: c.postLogoutRedirectUris ?? [],
      grant_types: c.grantTypes ?? ['client_credentials'],
      token_endpoint_auth_method: c.tokenEndpointAuthMethod ?? 'client_secret_basic',
      backchannel_logout_uri: c.backchannelLogoutUri,
      first_party: c.firstParty,
    } satisfies Partial<ClientView>;
  }
}

const unique = (xs: string[]) => [...new Set(xs)];
