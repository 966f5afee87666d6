import { Controller, Get, Param, Query, Req, Res, UseGuards } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { ApiExcludeController } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import type { InteractionResults } from 'oidc-provider';
import { AuthorizationCodesService } from '../auth/authorization-codes.service.js';
import { Public } from '../http/public.decorator.js';
import { ProviderRegistry } from '../auth/providers/provider-registry.js';
import { EnabledProviderGuard } from '../auth/providers/enabled-provider.guard.js';
import { DomainError } from '../common/domain-error.js';
import { escapeHtml } from '../common/html.js';
import type { ResolvedConfig } from '../config/app-secret.js';
import { InjectConfig } from '../config/config.module.js';
import { RateLimit } from '../http/rate-limit.decorator.js';
import { sendPage, signInPage } from '../web/pages.js';
import { INTERACTION_PATH, OidcProviderService } from './oidc-provider.service.js';
import { OidcSessionsService, type BrowserLogin } from './oidc-sessions.service.js';
import { INTERACTION_UID, InteractionLoginGuard, PendingSignInCookie } from './interaction-login.guard.js';
import { ConsentInteraction } from './consent.controller.js';

/** Reasons that ask for a fresh sign-in even in a browser signed in here: prompt=login, max_age, another subject. */
const REAUTHENTICATE = new Set(['login_prompt', 'max_age', 'id_token_hint', 'claims_id_token_sub_value']);

/**
 * Where oidc-provider sends the browser when a client's authorization request needs the person: our sign-in page and
 * our browser session decide who they are (docs/openid-provider.md, "Login is our browser session"). A browser
 * already signed in here goes straight back (SSO); otherwise the person signs in at a provider as on our own pages,
 * with the code spent here against a PKCE verifier sealed in this browser (RFC 7636; login CSRF, RFC 9700 §4.4.1.8).
 */
@ApiExcludeController()
@Public()
@Controller(INTERACTION_PATH.slice(1))
export class OidcInteractionController {
  constructor(
    private readonly adapterHost: HttpAdapterHost,
    private readonly op: OidcProviderService,
    private readonly bridge: OidcSessionsService,
    private readonly registry: ProviderRegistry,
    private readonly pending: PendingSignInCookie,
    private readonly codes: AuthorizationCodesService,
    @InjectConfig() private readonly config: ResolvedConfig,
    private readonly consent: ConsentInteraction,
  ) {}

  /** Nest's adapter-neutral response API: every answer goes through it (docs/fastify-trial.md, step 1). */
  private get http() {
    return this.adapterHost.httpAdapter;
  }

  @Get(':uid')
  async show(@Param('uid') uid: string, @Query('error') error: unknown, @Req() req: Request, @Res() res: Response) {
    const details = await this.details(uid, req, res);
    if (!details) return;
    if (details.prompt.name === 'login') {
      const browser = await this.bridge.browser(req, res);
      const fresh = details.prompt.reasons.some((r) => REAUTHENTICATE.has(r));
      if (browser && !fresh && typeof error !== 'string') return this.finish(details, browser, browser.authTime, req, res);
      // Keycloak's kc_idp_hint: straight to that provider, no chooser.
      const idp = details.params.idp;
      if (typeof idp === 'string' && typeof error !== 'string' && this.registry.list().some((p) => p.id === idp)) {
        return this.http.redirect(res, 303, `${INTERACTION_PATH}/${uid}/login/${encodeURIComponent(idp)}`);
      }
      const err = typeof error === 'string' ? { code: error.slice(0, 64) } : undefined;
      return sendPage(
        this.http,
        res,
        200,
        signInPage(
          this.registry.list(),
          new URL(this.config.publicUrl).host,
          err?.code,
          (id) => `${INTERACTION_PATH}/${uid}/login/${encodeURIComponent(id)}`,
        ),
      );
    }
    // The consent prompt: first-party clients never get here (their grant is implied, OidcProviderService.grantFor).
    return this.consent.show(details, req, res);
  }

  @RateLimit('signIn')
  @Get(':uid/login/:provider')
  @UseGuards(EnabledProviderGuard, InteractionLoginGuard)
  login(): void {
    // Not reached: InteractionLoginGuard's strategy answers with the redirect to the provider.
  }

  /** Back from the provider: the code is spent here, in the browser that holds its verifier, then the client's flow resumes. */
  @RateLimit('signIn')
  @Get(':uid/callback')
  async callback(@Param('uid') uid: string, @Req() req: Request, @Res() res: Response) {
    this.http.setHeader(res, 'Referrer-Policy', 'no-referrer');
    const details = await this.details(uid, req, res);
    if (!details) return;
    const query = req.query as Record<string, unknown>;
    const pending = this.pending.take(req, res);
    const retry = (code: string) => this.http.redirect(res, 303, `${INTERACTION_PATH}/${details.uid}?error=${encodeURIComponent(code)}`);
    if (typeof query.error === 'string') return retry(query.error.slice(0, 64));
    if (typeof query.code !== 'string' || pending?.uid !== details.uid) return retry('invalid_state');
    const spent = await this.codes.consume(query.code, pending.verifier).catch((e: unknown) => {
      if (e instanceof DomainError) return undefined;
      throw e;
    });
    if (!spent || !('row' in spent)) return retry('invalid_state');
    // The provider's callback made this browser's session the code's user's; anything else is not this sign-in.
    const browser = await this.bridge.browser(req, res);
    if (browser?.sub !== spent.row.userId) return retry('invalid_state');
    // A sign-in that just happened: auth_time is now (OIDC Core §2), whatever age the browser session has.
    return this.finish(details, browser, Math.floor(Date.now() / 1000), req, res);
  }

  /** The interaction this browser is in, or an error page (no redirect: nothing here says where to, safely). */
  private async details(uid: string, req: Request, res: Response) {
    const details = INTERACTION_UID.test(uid) ? await this.op.interactionDetails(req, res).catch(() => undefined) : undefined;
    if (!details || details.uid !== uid) {
      sendPage(this.http, res, 400, expiredPage());
      return undefined;
    }
    return details;
  }

  /**
   * Signs the browser session in to the client's flow. A mirror of oidc-provider's left from another user or another
   * browser session is ended first: it must sign nobody in, and resuming over it would ask to log out first.
   */
  private async finish(
    details: Awaited<ReturnType<OidcProviderService['provider']['interactionDetails']>>,
    browser: BrowserLogin,
    authTime: number,
    req: Request,
    res: Response,
  ) {
    const mirror = details.session;
    if (mirror?.uid && (mirror.accountId !== browser.sub || !(await this.bridge.mirrors(mirror.uid, browser)))) {
      await (await this.op.provider.Session.findByUid(mirror.uid))?.destroy();
      details.session = undefined;
      await details.persist();
    }
    const result: InteractionResults = { login: { accountId: browser.sub, ts: authTime } };
    const to = await this.op.interactionResult(req, res, result, { mergeWithLastSubmission: false });
    this.http.setHeader(res, 'Cache-Control', 'no-store');
    this.http.redirect(res, 303, to);
  }
}

function expiredPage(): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign-in expired</title><link rel="stylesheet" href="/assets/pages.css"></head>
<body><main class="card narrow"><h1>This sign-in has expired</h1>
<p>${escapeHtml('It took too long, or was started in another browser. Go back to the application and sign in again.')}</p>
</main></body></html>`;
}
