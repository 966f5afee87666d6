import { Injectable } from '@nestjs/common';
import type { Request, Response } from 'express';
import type { RequestContext } from '../http/request-context.js';
import { AuthorizationCodesService } from '../auth/authorization-codes.service.js';
import { LinkTicketsService } from '../auth/link-tickets.service.js';
import type { LoginAttempt } from '../auth/login-state.store.js';
import { PageSessionService } from '../auth/page-session.service.js';
import type { EnabledProvider } from '../auth/providers/provider-registry.js';
import { SignInService } from '../auth/sign-in.service.js';
import { deriveKey, pkceChallenge, randomToken, seal, unseal } from '../common/crypto.js';
import { DomainError } from '../common/domain-error.js';
import type { ResolvedConfig } from '../config/app-secret.js';
import { InjectConfig } from '../config/config.module.js';
import { Cookies } from '../http/cookies.js';
import type { AccessTokenClaims } from '../tokens/access-tokens.service.js';
import { SessionsService } from '../tokens/sessions.service.js';

const VERIFIER_COOKIE = 'sls_page_pkce';

/** What the pages' sealed PKCE cookie holds until the code comes back. */
interface PendingSignIn {
  verifier: string;
  /** A link from the account page (the message there differs), not a sign-in. */
  link: boolean;
}

/**
 * Our pages sign in like any app, with a one-time code and PKCE (RFC 7636), except that the code is spent on the
 * server: the verifier waits in a sealed, HttpOnly cookie of this browser, so a code planted in someone else's
 * browser (login CSRF, RFC 9700 §4.4.1.8) cannot be spent there. The browser's session itself is started by the
 * provider's callback (PageSessionService.signedIn), as for every app's sign-in.
 */
@Injectable()
export class PageSignInService {
  private readonly key: Buffer;
  private readonly cookies: Cookies;
  private readonly verifierCookie: string;
  private readonly callbackUrl: string;

  constructor(
    private readonly signIn: SignInService,
    private readonly codes: AuthorizationCodesService,
    private readonly linkTickets: LinkTicketsService,
    private readonly pages: PageSessionService,
    private readonly sessions: SessionsService,
    @InjectConfig() private readonly config: ResolvedConfig,
  ) {
    this.key = deriveKey(config.appSecret, 'page-pkce-cookie');
    this.cookies = new Cookies(config);
    // RFC 6265bis §4.1.3.2: __Host- (Secure, host-only, Path=/) on https, so a sibling domain cannot plant its own
    // verifier and finish a sign-in of its choosing in this browser (SECURITY.md L2).
    this.verifierCookie = this.cookies.name(VERIFIER_COOKIE);
    this.callbackUrl = `${config.publicUrl}/session/callback`;
  }

  /** The attempt of a sign-in from the sign-in page (PageLoginGuard hands it to the provider's strategy). */
  start(provider: EnabledProvider, req: Request, res: Response): Promise<LoginAttempt> {
    return this.signIn.start(provider, req, { returnTo: this.callbackUrl, appCodeChallenge: this.newVerifier(res, false) });
  }

  /** A link URL for the signed-in user (through the same callback). */
  async startLink(provider: EnabledProvider, userId: string, res: Response): Promise<string> {
    const url = new URL(await this.linkTickets.create(userId, provider.id, this.callbackUrl));
    url.searchParams.set('code_challenge', this.newVerifier(res, true));
    url.searchParams.set('code_challenge_method', 'S256');
    return url.href;
  }

  /** Spends the code; returns where the browser goes next. */
  async finish(req: Request, res: Response): Promise<string> {
    const query = req.query as Record<string, unknown>;
    const pending = this.takeVerifier(req, res);
    const current = await this.pages.authenticate(req, res).catch(() => undefined);
    if (typeof query.error === 'string') {
      // A failed link leaves the user signed in: the message belongs on the account page.
      const params = new URLSearchParams({ error: query.error.slice(0, 64) });
      return current ? `/account?${params}` : `/?${params}`;
    }
    const invalid = current ? '/account' : '/?error=invalid_state';
    if (typeof query.code !== 'string' || !pending) return invalid;
    const result = await this.codes.consume(query.code, pending.verifier).catch((e: unknown) => {
      if (e instanceof DomainError) return undefined;
      throw e;
    });
    if (!result || !('row' in result)) return invalid;
    // The provider's callback made this browser's session the code's user's; anything else is not this sign-in.
    if (current?.sub !== result.row.userId) return '/?error=invalid_state';
    return pending.link ? '/account?linked=1' : '/account';
  }

  async signOut(auth: AccessTokenClaims, res: Response, ctx: RequestContext): Promise<void> {
    if (auth.sid) await this.sessions.revoke(auth.sid, 'logout', { actorId: auth.sub, ctx });
    this.pages.clear(res);
  }

  private newVerifier(res: Response, link: boolean): string {
    const pending: PendingSignIn = { verifier: randomToken(32), link };
    this.cookies.set(
      res,
      this.verifierCookie,
      seal(this.key, JSON.stringify(pending), this.verifierCookie),
      this.config.loginStateTtl * 1000,
    );
    return pkceChallenge(pending.verifier);
  }

  private takeVerifier(req: Request, res: Response): PendingSignIn | undefined {
    const raw = (req.cookies as Record<string, unknown> | undefined)?.[this.verifierCookie];
    this.cookies.clear(res, this.verifierCookie);
    const opened = typeof raw === 'string' ? unseal(this.key, raw, this.verifierCookie) : undefined;
    return opened === undefined ? undefined : (JSON.parse(opened) as PendingSignIn);
  }
}
