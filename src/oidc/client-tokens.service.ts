import { Injectable, type OnModuleInit } from '@nestjs/common';
import { ClientsService } from '../clients/clients.service.js';
import type { ClientAuthMethod } from '../clients/oauth-metadata.js';
import { DomainError } from '../common/domain-error.js';
import type { ResolvedConfig } from '../config/app-secret.js';
import { InjectConfig } from '../config/config.module.js';
import { AuditService } from '../audit/audit.service.js';
import { Database } from '../database/db.service.js';
import { CONTROL_CHARACTERS } from '../http/validators.js';
import type { RequestContext } from '../http/request-context.js';
import { RateLimiter, retryAfterSeconds } from '../rate-limit/rate-limiter.service.js';
import { AccessTokensService, type AccessTokenClaims } from '../tokens/access-tokens.service.js';
import { RevocationsService } from '../tokens/revocations.service.js';
import { SessionsService } from '../tokens/sessions.service.js';
import { OidcGrantsRepository } from './oidc-grants.repository.js';
import { OidcProviderService } from './oidc-provider.service.js';
import { OidcRepository } from './oidc.repository.js';

/** How a client presented itself at the revocation or introspection endpoint (RFC 6749 §2.3.1; RFC 7009 §2.1). */
export interface PresentedClient {
  clientId: string;
  secret?: string;
  method: ClientAuthMethod;
}

/** The client that made the request, authenticated. */
export interface CallingClient {
  clientId: string;
}

export type TokenTypeHint = 'access_token' | 'refresh_token' | undefined;

/** RFC 7662 §2.2: what an active token's introspection answers (a refresh token has no `token_type` or `aud`). */
export type Introspection =
  | { active: false }
  | {
      active: true;
      scope?: string;
      client_id: string;
      sub: string;
      exp: number;
      iat: number;
      sid: string | undefined;
      token_type?: 'Bearer';
      aud?: string;
      iss: string;
      jti?: string;
    };

/** The refresh token of oidc-provider, as far as it is read here (models/refresh_token.js). */
interface RefreshTokenRecord {
  clientId: string;
  accountId: string;
  grantId: string;
  scope?: string;
  iat: number;
  exp: number;
  isValid: boolean;
}

/** Our tokens and oidc-provider's are never longer than this; anything longer is no token of ours (never looked up). */
const MAX_TOKEN = 4096;
const INACTIVE: Introspection = { active: false };

/**
 * RFC 7009 revocation and RFC 7662 introspection for the OpenID Provider's clients, over both kinds of token a client
 * holds: our RFC 9068 access tokens (JWTs, never stored) and oidc-provider's refresh tokens (stored, bound to a
 * session of ours). docs/openid-provider.md says why these are ours and not oidc-provider's.
 *
 * A client only ever revokes or introspects its own tokens (SECURITY.md O9, O10): another client's token, an unknown
 * one or garbage is "nothing revoked" (200, RFC 7009 §2.2) or `{active:false}` (RFC 7662 §2.2), the same answer, so
 * neither endpoint tells a client whether a token it holds by accident exists.
 */
@Injectable()
export class ClientTokensService implements OnModuleInit {
  constructor(
    private readonly clients: ClientsService,
    private readonly accessTokens: AccessTokensService,
    private readonly revocations: RevocationsService,
    private readonly sessions: SessionsService,
    private readonly op: OidcProviderService,
    private readonly grants: OidcGrantsRepository,
    private readonly repo: OidcRepository,
    private readonly limiter: RateLimiter,
    private readonly database: Database,
    private readonly audit: AuditService,
    @InjectConfig() private readonly config: ResolvedConfig,
  ) {}

  onModuleInit(): void {
    this.clients.whenRetired((clientId, reason, by) => this.endClientGrants(clientId, reason, by));
  }

  /**
   * The client, authenticated as at the token endpoint (RFC 7009 §2.1, RFC 7662 §2.1): its secret through
   * ClientsService.authenticate (constant time, the grace period after a rotation, failures audited), with the method
   * it is registered for, as oidc-provider's token endpoint insists; a public client by its `client_id` alone. Failures
   * are counted per IP like the token endpoint's (RATE_LIMIT_CLIENT_AUTH_FAILURES), so guessing stays slow.
   */
  async authenticate(presented: PresentedClient, ctx: RequestContext): Promise<CallingClient> {
    const failuresKey = `clientAuthFailures:${ctx.ip ?? 'unknown'}`;
    const blockedMs = await this.limiter.blockedFor(failuresKey);
    if (blockedMs > 0) {
      throw new DomainError('rate_limited', 'too many failed client authentications; retry later').retryingAfter(
        retryAfterSeconds(blockedMs),
      );
    }
    const client = await this.check(presented, ctx);
    if (client) return client;
    await this.limiter.hit(failuresKey, this.config.rateLimitPerMinute.clientAuthFailures);
    throw new DomainError('invalid_client', 'unknown client, wrong secret, or not the authentication method the client is registered for');
  }

  private async check(presented: PresentedClient, ctx: RequestContext): Promise<CallingClient | undefined> {
    // No client id has a control character: never looked up (PostgreSQL refuses a NUL with an error).
    if (CONTROL_CHARACTERS.test(presented.clientId)) return undefined;
    if (presented.method === 'none') {
      const view = await this.clients.get(presented.clientId).catch(() => undefined);
      return view && !view.disabled && view.token_endpoint_auth_method === 'none' ? { clientId: view.client_id } : undefined;
    }
    const client = await this.clients.authenticate(presented.clientId, presented.secret ?? '', ctx);
    if (!client || client.disabled) return undefined;
    // The method it is registered for, as oidc-provider's token endpoint has it (NULL is client_secret_basic there);
    // a client from before the OpenID Provider (no grant types recorded) may use either, as at /auth/token.
    const registered = client.tokenEndpointAuthMethod ?? (client.grantTypes ? 'client_secret_basic' : undefined);
    if (registered && registered !== presented.method) return undefined;
    return { clientId: client.clientId };
  }

  /**
   * RFC 7009 §2.1. A refresh token: its grant ends (the refresh token, and any other record of the grant) and so does
   * the session of ours its tokens belong to, which stops its access tokens on every instance (the revocation feed).
   * An access token: a JWT cannot be revoked alone (it is not stored, and every instance accepts it until `exp`), so
   * its session ends, and with it the grant's refresh token (RFC 7009 §2.1 allows revoking related tokens; Keycloak
   * ends the user session of an online token likewise). An API client's own token (client credentials, no session):
   * every token of that client issued until now. Anything else: nothing, and the same 200.
   */
  async revoke(client: CallingClient, token: string, hint: TokenTypeHint, ctx: RequestContext): Promise<void> {
    if (!plausible(token)) return;
    const by = { actorId: client.clientId, ctx };
    for (const kind of order(hint)) {
      if (kind === 'access_token') {
        const claims = this.accessToken(token);
        if (!claims) continue;
        if (claims.client_id !== client.clientId) return;
        if (claims.sid === undefined) {
          // No session to end, so no session_revoked row: the client's own audit row, with whoever asked (O9).
          return this.database.transaction(async () => {
            await this.revocations.revokeUserTokens(client.clientId);
            await this.audit.record({
              type: 'client_tokens_revoked',
              actorId: client.clientId,
              reason: 'revoked_by_client',
              ...ctx,
              details: { clientId: client.clientId },
            });
          });
        }
        return this.database.transaction(async () => {
          for (const grant of await this.grants.grantsOfSession(claims.sid!)) {
            if (grant.client_id === client.clientId) await this.grants.destroyGrant(grant.grant_id);
          }
          await this.sessions.revoke(claims.sid!, 'revoked_by_client', by);
        });
      }
      const refresh = await this.refreshToken(token);
      if (!refresh) continue;
      if (refresh.clientId !== client.clientId) return;
      return this.endGrant(refresh.grantId, 'revoked_by_client', by);
    }
  }

  /**
   * A client's grant ends: oidc-provider's records of it, and the session of ours its tokens carry (audited as
   * session_revoked with `reason`, the feed stopping its access tokens everywhere).
   */
  async endGrant(grantId: string, reason: string, by: { actorId: string; ctx?: RequestContext }): Promise<void> {
    await this.database.transaction(async () => {
      // The grant first, then its session: a first token of the grant binding its session meanwhile holds the grant's
      // row (OidcRepository.lockGrant), so its binding is read here, or it finds the grant gone (SECURITY.md O17).
      await this.grants.destroyGrant(grantId);
      const bound = await this.repo.grantSession(grantId);
      if (bound) await this.sessions.revoke(bound.session_id, reason, by);
    });
  }

  /**
   * A client disabled or deleted: every grant it holds for people ends with its session, so its access and refresh
   * tokens stop; enabling it again brings none back (the sessions are revoked, the grants gone).
   */
  async endClientGrants(clientId: string, reason: 'client_disabled' | 'client_deleted', by: { actorId: string; ctx?: RequestContext }) {
    for (const grant of await this.grants.grantsOfClient(clientId)) await this.endGrant(grant.grant_id, reason, by);
    // Grants with no session yet (a code not exchanged): gone too, so the code is no good after re-enabling either.
    // Through endGrant: one whose code is being exchanged right now may have bound its session since the first loop.
    for (const grantId of await this.grants.grantIdsOfClient(clientId)) await this.endGrant(grantId, reason, by);
  }

  /**
   * RFC 7662 §2.2: active only for a token of this client that is valid now and whose session is still active. Our
   * JWT: signature, issuer, audience, `exp` (AccessTokensService.verify), then the revocation feed and the session. A
   * refresh token: not spent (rotation consumes it), not expired, its grant still there, and its session active.
   */
  async introspect(client: CallingClient, token: string, hint: TokenTypeHint): Promise<Introspection> {
    if (!plausible(token)) return INACTIVE;
    for (const kind of order(hint)) {
      if (kind === 'access_token') {
        const claims = this.accessToken(token);
        if (!claims) continue;
        if (claims.client_id !== client.clientId) return INACTIVE;
        if (this.revocations.isRevoked(claims.sid, claims.sub, claims.iat)) return INACTIVE;
        if (claims.sid !== undefined && !(await this.sessionActive(claims.sid, claims.sub))) return INACTIVE;
        return {
          active: true,
          scope: claims.scope,
          client_id: claims.client_id,
          sub: claims.sub,
          exp: claims.exp,
          iat: claims.iat,
          sid: claims.sid,
          token_type: 'Bearer',
          aud: claims.aud,
          iss: claims.iss,
          jti: claims.jti,
        };
      }
      const refresh = await this.refreshToken(token);
      if (!refresh) continue;
      if (refresh.clientId !== client.clientId || !refresh.isValid) return INACTIVE;
      const grant = await this.op.provider.Grant.find(refresh.grantId);
      if (!grant || grant.clientId !== refresh.clientId || grant.accountId !== refresh.accountId) return INACTIVE;
      const bound = await this.repo.grantSession(refresh.grantId);
      if (!bound || !(await this.sessionActive(bound.session_id, refresh.accountId))) return INACTIVE;
      return {
        active: true,
        scope: refresh.scope || undefined,
        client_id: refresh.clientId,
        sub: refresh.accountId,
        exp: refresh.exp,
        iat: refresh.iat,
        sid: bound.session_id,
        iss: this.config.publicUrl,
      };
    }
    return INACTIVE;
  }

  /** Our access token, verified (signature, issuer, audience, expiry); undefined for anything else. */
  private accessToken(token: string): AccessTokenClaims | undefined {
    try {
      return this.accessTokens.verify(token);
    } catch (e) {
      if (e instanceof DomainError) return undefined;
      throw e;
    }
  }

  /** oidc-provider's refresh token by its value (spent ones included, expired ones not); undefined for anything else. */
  private async refreshToken(token: string): Promise<RefreshTokenRecord | undefined> {
    const found = (await this.op.provider.RefreshToken.find(token)) as unknown as RefreshTokenRecord | undefined;
    return found?.clientId && found.grantId && found.accountId ? found : undefined;
  }

  private async sessionActive(sessionId: string, userId: string): Promise<boolean> {
    return (await this.sessions.listActive(userId)).some((s) => s.id === sessionId);
  }
}

/** The hint decides only which kind is tried first (RFC 7009 §2.1: "the server … MAY ignore it"). */
function order(hint: TokenTypeHint): ('access_token' | 'refresh_token')[] {
  return hint === 'refresh_token' ? ['refresh_token', 'access_token'] : ['access_token', 'refresh_token'];
}

function plausible(token: string): boolean {
  return token.length > 0 && token.length <= MAX_TOKEN && !CONTROL_CHARACTERS.test(token);
}
