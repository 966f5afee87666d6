import { Injectable, Logger } from '@nestjs/common';
import type { Request } from 'express';
import { AccountsService } from '../accounts/accounts.service.js';
import { linkBrowserRefusal } from '../accounts/linking-policy.js';
import { AuditService } from '../audit/audit.service.js';
import { Clock } from '../common/clock.js';
import { randomToken } from '../common/crypto.js';
import { DomainError } from '../common/domain-error.js';
import { requestContext } from '../http/request-context.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { isDatabaseUnavailable } from '../database/errors.js';
import { InjectConfig } from '../config/config.module.js';
import type { ResolvedConfig } from '../config/app-secret.js';
import { AuthorizationCodesService } from './authorization-codes.service.js';
import type { LoginAttempt } from './login-state.store.js';
import { LinkTicketsService } from './link-tickets.service.js';
import { PageSessionService } from './page-session.service.js';
import type { EnabledProvider } from './providers/provider-registry.js';
import type { ProviderProfile } from '../accounts/provider-profile.js';
import { providerErrorDetails } from './providers/provider-error.js';
import { NotAProviderResponse, restoredAttempt } from './providers/passport-state-stores.js';
import { withParams } from '../http/return-url.js';

/** Errors the Passport libraries raise for a provider that answered badly, by class name. */
/** passport-openidconnect's own ID-token claim checks (lib/strategy.js), which fail with a plain Error. */
const PASSPORT_OIDC_CLAIM_ERROR =
  /^ID token (missing (issuer|subject|audience|expiration time|issued at) claim|audience claim not an array or string value)$/;

const PROVIDER_ERRORS = new Set([
  'AuthorizationError',
  'TokenError',
  'InternalOAuthError',
  'UserInfoError',
  'GooglePlusAPIError',
  'FacebookAuthorizationError',
  'FacebookTokenError',
  'FacebookGraphAPIError',
]);
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH']);

/** The browser sign-in: from "Log in with X" to a one-time code for the app. */
@Injectable()
export class SignInService {
  private readonly logger = new Logger(SignInService.name);

  constructor(
    private readonly accounts: AccountsService,
    private readonly codes: AuthorizationCodesService,
    private readonly audit: AuditService,
    private readonly metrics: MetricsService,
    private readonly browserSessions: PageSessionService,
    private readonly linkTickets: LinkTicketsService,
    @InjectConfig() private readonly config: ResolvedConfig,
    private readonly clock: Clock,
  ) {}

  /** The built-in page: where sign-ins without an acceptable returnTo end. */
  get fallbackUrl(): string {
    return `${this.config.publicUrl}/`;
  }

  /**
   * A new attempt at `provider`, for its strategy (ProviderLoginGuard), which seals it into a cookie on the response
   * and redirects to the provider.
   */
  async start(
    provider: EnabledProvider,
    req: Request,
    opts: { returnTo: string; appCodeChallenge?: string; link?: { ticket: string; userId: string } },
  ): Promise<LoginAttempt> {
    if (opts.link) {
      const { ticket, userId } = opts.link;
      // Whatever fails here (the database, too) ends at the link's returnTo like any other sign-in failure. The ticket
      // is spent only once the browser is the requester's.
      await this.assertLinkingBrowser(req, userId, provider.id, opts.returnTo)
        .then(() => this.linkTickets.spend(ticket, provider.id))
        .catch((e: unknown) => {
          throw this.toSignInError(e).redirectingTo(opts.returnTo);
        });
    }
    return {
      provider: provider.id,
      returnTo: opts.returnTo,
      nonce: randomToken(32),
      // passport-oauth2 makes its own PKCE verifier; this one serves passport-openidconnect, which has none.
      pkceVerifier: randomToken(32),
      appCodeChallenge: opts.appCodeChallenge,
      linkUserId: opts.link?.userId,
      expiresAt: this.clock.now() + this.config.loginStateTtl * 1000,
    };
  }

  /**
   * The provider's callback, before its strategy reads it (SignInCallbackGuard): a response, with a code or an error,
   * from the provider this callback belongs to.
   */
  checkCallback(provider: EnabledProvider, req: Request): void {
    const query = req.query as Record<string, unknown>;
    if (typeof query.code !== 'string' && typeof query.error !== 'string' && typeof query.error_code !== 'string') {
      throw this.failed(
        provider,
        new DomainError('invalid_request', 'the sign-in response has neither a code nor an error').redirectingTo(this.fallbackUrl),
      );
    }
    // RFC 9207 §2.4: when the provider names itself in the response, it must be the one this callback belongs to.
    if (provider.issuer && (query.iss !== undefined || provider.issuerParamRequired) && query.iss !== provider.issuer) {
      throw this.failed(
        provider,
        new DomainError('invalid_request', 'the sign-in response names another issuer').redirectingTo(this.fallbackUrl),
      );
    }
  }

  /**
   * What the provider's strategy made of the callback (Passport's err, user and info, from AuthGuard.handleRequest):
   * the profile its `validate` returned, or the failure, audited with the provider's own error, as an error redirect
   * to the attempt's returnTo when the attempt was restored.
   */
  async verifiedProfile(provider: EnabledProvider, req: Request, err: unknown, user: unknown, info: unknown): Promise<ProviderProfile> {
    if (!err && user) return user as ProviderProfile;
    const query = req.query as Record<string, unknown>;
    // Without an error, the strategy refused the answer (Passport's fail), or had none to read (NotAProviderResponse).
    const e =
      err && !(err instanceof NotAProviderResponse)
        ? err
        : query.error === 'access_denied' || query.error_code !== undefined
          ? new DomainError('access_denied', 'sign-in was cancelled at the provider')
          : new DomainError('invalid_id_token', describeFailure(err ? undefined : info));
    const error = this.toSignInError(e);
    if (error.code !== 'invalid_state') {
      // Best effort: when the database itself is what failed, the browser still gets its error redirect.
      await this.audit
        .record({
          type: 'sign_in_failed',
          provider: provider.id,
          reason: error.code,
          ...requestContext(req),
          details: { description: error.description, ...providerErrorDetails(e, query) },
        })
        .catch((auditError: Error) => this.logger.warn(`sign-in failure not audited: ${auditError.message}`));
    }
    throw this.failed(provider, error.redirectingTo(error.redirectTo ?? restoredAttempt(req)?.returnTo ?? this.fallbackUrl));
  }

  /**
   * Signs in with the verified profile (after SignInCallbackGuard) and returns where to send the browser:
   * `returnTo?code=…`.
   */
  async finish(provider: EnabledProvider, req: Request, profile: ProviderProfile): Promise<string> {
    const ctx = requestContext(req);
    const attempt = restoredAttempt(req)!;
    let to: string;
    try {
      // Checked again at the end: the browser's session may have ended or changed hands since the link started.
      if (attempt.linkUserId) await this.assertLinkingBrowser(req, attempt.linkUserId, provider.id, attempt.returnTo);
      const { user, identity } = await this.accounts.signIn(profile, { linkUserId: attempt.linkUserId, ctx });
      const browserSessionId = await this.browserSessions.signedIn(req, req.res!, user, identity.id, ctx);
      const code = await this.codes.create(user.id, identity.id, attempt.appCodeChallenge, ctx, browserSessionId);
      to = withParams(attempt.returnTo, { code });
    } catch (e) {
      throw this.failed(provider, this.toSignInError(e).redirectingTo(attempt.returnTo));
    }
    this.metrics.signIns.inc({ provider: provider.id, outcome: 'success' });
    return to;
  }

  /** A failed callback, counted by its code. */
  private failed(provider: EnabledProvider, error: DomainError): DomainError {
    this.metrics.signIns.inc({ provider: provider.id, outcome: error.code });
    return error;
  }

  /**
   * Checklist L1: a link goes on only in a browser whose session at the service is the requesting user's. Anyone else
   * who opens the link URL — a fresh browser, or another user's — links nothing and gets no code; the refusal is
   * audited on the requester's account with the rule that fired and the browser's user as actor.
   */
  private async assertLinkingBrowser(req: Request, linkUserId: string, provider: string, returnTo: string): Promise<void> {
    const browser = await this.browserSessions.authenticate(req, req.res!);
    const rule = linkBrowserRefusal(linkUserId, browser?.sub);
    if (!rule) return;
    await this.audit.record({
      type: 'link_refused',
      userId: linkUserId,
      actorId: browser?.sub ?? null,
      provider,
      reason: rule,
      ...requestContext(req),
    });
    throw new DomainError(
      'not_logged_in',
      'this link URL works only in the browser where its requester is signed in to this service; sign in there and start again',
    ).redirectingTo(returnTo);
  }

  /** Any failure during a browser sign-in as a coded error (a provider's, the database's, or server_error, logged). */
  toSignInError(e: unknown): DomainError {
    if (e instanceof DomainError) return e;
    const name = (e as { name?: string } | null)?.name ?? '';
    if (PROVIDER_ERRORS.has(name)) {
      const cause = (e as { oauthError?: { code?: string } }).oauthError;
      if (cause?.code && NETWORK_CODES.has(cause.code)) {
        return new DomainError('provider_unavailable', 'the sign-in provider could not be reached', { cause: e });
      }
      return new DomainError('provider_error', 'the sign-in provider refused or failed the request', { cause: e });
    }
    // passport-openidconnect refuses an ID token missing a required claim (OIDC Core §2: iss, sub, aud, exp, iat) with
    // a plain Error before our verifier sees it: the provider's token is invalid, not our server's fault.
    if (e instanceof Error && PASSPORT_OIDC_CLAIM_ERROR.test(e.message))
      return new DomainError('invalid_id_token', `the provider's ID token was refused: ${e.message}`, { cause: e });
    if (isDatabaseUnavailable(e))
      return new DomainError('temporarily_unavailable', 'sign-in is unavailable for a moment; please try again', { cause: e });
    this.logger.error(e instanceof Error ? (e.stack ?? e.message) : String(e));
    return new DomainError('server_error', 'sign-in failed unexpectedly');
  }
}

function describeFailure(info: unknown): string {
  const message = (info as { message?: unknown } | undefined)?.message;
  return typeof message === 'string' ? `the provider's answer was refused: ${message}` : 'the provider’s answer was refused';
}
