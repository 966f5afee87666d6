import { Injectable } from '@nestjs/common';
import type { Request, Response } from 'express';
import { AccountsService } from '../accounts/accounts.service.js';
import type { RequestContext } from '../audit/audit.service.js';
import { effectiveRoles } from '../accounts/roles.js';
import { AuthorizationCodesService } from '../auth/authorization-codes.service.js';
import { LinkTicketsService } from '../auth/link-tickets.service.js';
import { PageSessionService } from '../auth/page-session.service.js';
import type { EnabledProvider } from '../auth/providers/provider-registry.js';
import { SignInService } from '../auth/sign-in.service.js';
import { deriveKey, pkceChallenge, randomToken, seal, unseal } from '../common/crypto.js';
import { requestContext } from '../common/request-context.js';
import type { ResolvedConfig } from '../config/app-secret.js';
import { InjectConfig } from '../config/config.module.js';
import type { AccessTokenClaims } from '../tokens/access-tokens.service.js';
import { SessionsService } from '../tokens/sessions.service.js';

const VERIFIER_COOKIE = 'sls_page_pkce';

/**
 * Our pages sign in like any app, with a one-time code and PKCE (RFC 7636), except that the code is spent on the
 * server: the verifier waits in a sealed, HttpOnly cookie of this browser, so a code planted in someone else's
 * browser (login CSRF, RFC 9700 §4.4.1.8) cannot be spent there.
 */
@Injectable()
export class PageSignInService {
  private readonly key: Buffer;
  private readonly secure: boolean;
  private readonly callbackUrl: string;

  constructor(
    private readonly signIn: SignInService,
    private readonly codes: AuthorizationCodesService,
    private readonly linkTickets: LinkTicketsService,
    private readonly pages: PageSessionService,
    private readonly sessions: SessionsService,
    private readonly accounts: AccountsService,
    @InjectConfig() private readonly config: ResolvedConfig,
  ) {
    this.key = deriveKey(config.appSecret, 'page-pkce-cookie');
    this.secure = config.publicUrl.startsWith('https://');
    this.callbackUrl = `${config.publicUrl}/session/callback`;
  }

  /** The provider's URL for a sign-in from the sign-in page. */
  start(provider: EnabledProvider, req: Request, res: Response): Promise<string> {
    return this.signIn.start(provider, req, { returnTo: this.callbackUrl, appCodeChallenge: this.newVerifier(res) });
  }

  /** A link URL for the signed-in user (through the same callback). */
  async startLink(provider: EnabledProvider, userId: string, res: Response): Promise<string> {
    const url = new URL(await this.linkTickets.create(userId, provider.id, this.callbackUrl));
    url.searchParams.set('code_challenge', this.newVerifier(res));
    url.searchParams.set('code_challenge_method', 'S256');
    return url.href;
  }

  /** Spends the code; returns where the browser goes next. */
  async finish(req: Request, res: Response): Promise<string> {
    const query = req.query as Record<string, unknown>;
    const verifier = this.takeVerifier(req, res);
    const current = await this.pages.authenticate(req, res).catch(() => undefined);
    if (typeof query.error === 'string') {
      // A failed link leaves the user signed in: the message belongs on the account page.
      const params = new URLSearchParams({ error: query.error.slice(0, 64) });
      return current ? `/account?${params}` : `/?${params}`;
    }
    if (typeof query.code !== 'string' || !verifier) return current ? '/account' : '/?error=invalid_state';
    const result = await this.codes.consume(query.code, verifier);
    if (!('row' in result)) return current ? '/account' : '/?error=invalid_state';
    const { userId } = result.row;
    if (current?.sub === userId) return '/account?linked=1';
    const user = await this.accounts.findUser(userId);
    if (!user || user.disabled) return '/?error=account_disabled';
    const browser = requestContext(req);
    const issued = await this.codes.startSession(result.row, browser);
    this.pages.issue(res, { sid: issued.session.id, sub: userId, roles: effectiveRoles(user) });
    return '/account';
  }

  async signOut(auth: AccessTokenClaims, res: Response, ctx: RequestContext): Promise<void> {
    if (auth.sid) await this.sessions.revoke(auth.sid, 'logout', { actorId: auth.sub, ctx });
    this.pages.clear(res);
  }

  private newVerifier(res: Response): string {
    const verifier = randomToken(32);
    res.cookie(VERIFIER_COOKIE, seal(this.key, verifier, VERIFIER_COOKIE), {
      httpOnly: true,
      sameSite: 'lax',
      secure: this.secure,
      path: '/session/callback',
      maxAge: this.config.loginStateTtl * 1000,
    });
    return pkceChallenge(verifier);
  }

  private takeVerifier(req: Request, res: Response): string | undefined {
    const raw = (req.cookies as Record<string, string> | undefined)?.[VERIFIER_COOKIE];
    res.clearCookie(VERIFIER_COOKIE, { httpOnly: true, sameSite: 'lax', secure: this.secure, path: '/session/callback' });
    return raw ? unseal(this.key, raw, VERIFIER_COOKIE) : undefined;
  }
}
