import { Injectable } from '@nestjs/common';
import { AccountsService } from '../accounts/accounts.service.js';
import { effectiveRoles } from '../tokens/token-roles.js';
import type { User } from '../accounts/user.entity.js';
import { AuditService } from '../audit/audit.service.js';
import type { RequestContext } from '../http/request-context.js';
import { sha256 } from '../common/crypto.js';
import { DomainError } from '../common/domain-error.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { AccessTokensService } from '../tokens/access-tokens.service.js';
import { SessionsService, type IssuedSession } from '../tokens/sessions.service.js';
import { AuthorizationCodesService } from './authorization-codes.service.js';
import { ClientsService } from '../clients/clients.service.js';
import { RateLimiter, retryAfterSeconds } from '../rate-limit/rate-limiter.service.js';
import { InjectConfig } from '../config/config.module.js';
import type { ResolvedConfig } from '../config/app-secret.js';

export interface TokenResponse {
  access_token: string;
  token_type: 'Bearer';
  expires_in: number;
  refresh_token: string;
}

/** RFC 6749 §4.4.3: no refresh token; `scope` as granted. */
export interface ClientTokenResponse {
  access_token: string;
  token_type: 'Bearer';
  expires_in: number;
  scope?: string;
}

/** The grants of POST /auth/token and the session end of POST /auth/logout. */
@Injectable()
export class TokenEndpointService {
  constructor(
    private readonly codes: AuthorizationCodesService,
    private readonly sessions: SessionsService,
    private readonly accessTokens: AccessTokensService,
    private readonly accounts: AccountsService,
    private readonly audit: AuditService,
    private readonly metrics: MetricsService,
    private readonly clients: ClientsService,
    private readonly limiter: RateLimiter,
    @InjectConfig() private readonly config: ResolvedConfig,
  ) {}

  /**
   * RFC 6749 §4.4: an API client's own token. Failed authentications are counted per IP; over
   * RATE_LIMIT_CLIENT_AUTH_FAILURES a minute, that IP's client authentications are refused (429) before any secret
   * is compared, so guessing stays slow.
   */
  async clientCredentials(
    auth: { clientId: string; secret: string },
    scope: string | undefined,
    ctx: RequestContext,
  ): Promise<ClientTokenResponse> {
    const failuresKey = `clientAuthFailures:${ctx.ip ?? 'unknown'}`;
    const blockedMs = await this.limiter.blockedFor(failuresKey);
    if (blockedMs > 0)
      throw new DomainError('rate_limited', 'too many failed client authentications; retry later').retryingAfter(
        retryAfterSeconds(blockedMs),
      );
    const client = await this.clients.authenticate(auth.clientId, auth.secret, ctx);
    if (!client) {
      await this.limiter.hit(failuresKey, this.config.rateLimitPerMinute.clientAuthFailures);
      throw new DomainError('invalid_client', 'unknown client or wrong secret');
    }
    if (client.disabled) throw new DomainError('unauthorized_client', 'the client is disabled');
    // NULL: a client from before the OpenID Provider, which has only this grant.
    if (client.grantTypes && !client.grantTypes.includes('client_credentials')) {
      throw new DomainError('unauthorized_client', 'the client may not use the client_credentials grant');
    }
    // RFC 6749 §3.3: space-delimited; nothing outside the client's allowed scopes; none asked → all allowed ones.
    const requested = [...new Set((scope ?? '').split(' ').filter(Boolean))];
    const outside = requested.filter((s) => !client.scopes.includes(s));
    if (outside.length) throw new DomainError('invalid_scope', `the client may not ask for ${outside.join(' ').slice(0, 200)}`);
    const granted = requested.length ? requested : client.scopes;
    const { token, expiresIn } = await this.accessTokens.issue({ clientId: client.clientId, roles: client.roles, scopes: granted });
    this.metrics.tokensIssued.inc({ grant: 'client_credentials' });
    return { access_token: token, token_type: 'Bearer', expires_in: expiresIn, ...(granted.length ? { scope: granted.join(' ') } : {}) };
  }

  async exchangeCode(code: string, codeVerifier: string | undefined, ctx: RequestContext): Promise<TokenResponse> {
    const result = await this.codes.consume(code, codeVerifier);
    // A replay reaches here only with the right verifier (consume checks PKCE before anything else), so holding a
    // PKCE-bound code alone never ends the session it started (SECURITY.md L3).
    if ('reused' in result) {
      const { sessionId, userId } = result.reused;
      if (sessionId && (await this.sessions.revoke(sessionId, 'authorization_code_reused', { ctx }))) {
        await this.audit.record({ type: 'authorization_code_reused', userId, reason: 'session revoked', ...ctx, details: { sessionId } });
      }
      throw new DomainError('invalid_grant', 'the code is invalid, expired or already used');
    }
    const user = await this.activeUser(result.row.userId);
    // The session belongs to the browser that signed in, not to the app backend that exchanges the code.
    const browser = { ip: result.row.ip, userAgent: result.row.userAgent };
    const issued = await this.codes.startSession(result.row, browser);
    this.metrics.tokensIssued.inc({ grant: 'authorization_code' });
    return this.respond({ id: user.id, roles: effectiveRoles(user) }, issued);
  }

  async refresh(refreshToken: string, ctx: RequestContext): Promise<TokenResponse> {
    const { roles, ...issued } = await this.sessions.rotate(refreshToken, ctx);
    this.metrics.tokensIssued.inc({ grant: 'refresh_token' });
    return this.respond({ id: issued.session.userId, roles }, issued);
  }

  /**
   * Ends the session a refresh token belongs to, audited as its user's own doing (the token's holder acts for them).
   * Unknown tokens end nothing and say nothing (RFC 7009 §2.2).
   */
  async logoutByRefreshToken(refreshToken: string, ctx: RequestContext): Promise<void> {
    const session = await this.sessions.sessionOfRefreshToken(refreshToken);
    if (session) await this.sessions.logout(session.id, { actorId: session.userId, ctx });
  }

  /** Ends the session of a user's access token, audited as that user's doing. */
  async logoutSession(claims: { sub: string; sid: string }, ctx: RequestContext): Promise<void> {
    await this.sessions.logout(claims.sid, { actorId: claims.sub, ctx });
  }

  private async activeUser(userId: string): Promise<User> {
    const user = await this.accounts.findUser(userId);
    if (!user || user.disabled) throw new DomainError('invalid_grant', 'the account is disabled or no longer exists');
    return user;
  }

  private async respond(user: Pick<User, 'id' | 'roles'>, issued: IssuedSession): Promise<TokenResponse> {
    const { token, expiresIn } = await this.accessTokens.issue({ userId: user.id, sessionId: issued.session.id, roles: user.roles });
    return { access_token: token, token_type: 'Bearer', expires_in: expiresIn, refresh_token: issued.refreshToken };
  }
}
