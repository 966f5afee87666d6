import { Controller, Get, HttpCode, Param, Post, Query, Req, Res, UseGuards } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { ApiExcludeController } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { ROLE_ADMIN } from '../accounts/roles.js';
import { Public } from '../http/public.decorator.js';
import { CurrentAuth } from '../http/current-auth.decorator.js';
import { UsersOnly } from '../http/users-only.decorator.js';
import { PageSessionService } from '../auth/page-session.service.js';
import { requestContext } from '../http/request-context.js';
import { EnabledProviderGuard } from '../auth/providers/enabled-provider.guard.js';
import { ProviderRegistry } from '../auth/providers/provider-registry.js';
import { RateLimit } from '../http/rate-limit.decorator.js';
import type { AccessTokenClaims } from '../tokens/access-tokens.service.js';
import { InjectConfig } from '../config/config.module.js';
import type { ResolvedConfig } from '../config/app-secret.js';
import { PageLoginGuard } from './page-login.guard.js';
import { PageSignInService } from './page-sign-in.service.js';
import { accountPage, adminPage, forbiddenPage, messageFor, sendPage, signInPage } from './pages.js';

/** The sign-in page, the account page and the admin console, with the cookie session they run on. */
@ApiExcludeController()
@UsersOnly()
@Controller()
export class PagesController {
  constructor(
    private readonly adapterHost: HttpAdapterHost,
    private readonly registry: ProviderRegistry,
    private readonly pages: PageSessionService,
    private readonly signIn: PageSignInService,
    @InjectConfig() private readonly config: ResolvedConfig,
  ) {}

  /** Nest's adapter-neutral response API: every answer goes through it (docs/fastify-trial.md, step 1). */
  private get http() {
    return this.adapterHost.httpAdapter;
  }

  /**
   * The sign-in page; a signed-in visitor goes on to the account page. An `error` shows as our own sentence for its
   * code; an `error_description` is not read: our redirects here never carry one, so any would come from whoever
   * wrote the link, and text of their choosing on our page ("call this number…") is content spoofing even escaped.
   */
  @Public()
  @Get(['', 'login'])
  async home(@Req() req: Request, @Res() res: Response, @Query('error') error: unknown) {
    if (error === undefined && (await this.pages.authenticate(req, res))) return this.http.redirect(res, 303, '/account');
    const code = typeof error === 'string' ? error.slice(0, 64) : undefined;
    sendPage(this.http, res, 200, signInPage(this.registry.list(), new URL(this.config.publicUrl).host, code));
  }

  /** Browsers ask for it on every page without an icon of its own (the demo provider's). */
  @Public()
  @Get('favicon.ico')
  favicon(@Res() res: Response) {
    this.http.redirect(res, 301, '/assets/favicon.svg');
  }

  @Public()
  @RateLimit('signIn')
  @Get('session/login/:provider')
  @UseGuards(EnabledProviderGuard, PageLoginGuard)
  login(): void {
    // Not reached: PageLoginGuard's strategy answers with the redirect to the provider.
  }

  /** Where our own pages' sign-ins and links come back: the code is spent here, never shown to a script. */
  @Public()
  @RateLimit('signIn')
  @Get('session/callback')
  async callback(@Req() req: Request, @Res() res: Response) {
    this.http.setHeader(res, 'Referrer-Policy', 'no-referrer');
    this.http.setHeader(res, 'Cache-Control', 'no-store');
    this.http.redirect(res, 303, await this.signIn.finish(req, res));
  }

  @Post('session/logout')
  @HttpCode(204)
  async logout(@CurrentAuth() auth: AccessTokenClaims, @Req() req: Request, @Res({ passthrough: true }) res: Response) {
    await this.signIn.signOut(auth, res, requestContext(req));
  }

  /** Starts linking another provider to the signed-in user: the browser goes to the returned URL. */
  @Post('session/link/:provider')
  @HttpCode(200)
  async link(@Param('provider') id: string, @CurrentAuth() auth: AccessTokenClaims, @Res({ passthrough: true }) res: Response) {
    return { url: await this.signIn.startLink(this.registry.get(id), auth.sub, res) };
  }

  @Public()
  @Get('account')
  async account(@Req() req: Request, @Res() res: Response, @Query('error') error: unknown, @Query('linked') linked: unknown) {
    const auth = await this.pages.authenticate(req, res);
    if (!auth) return this.http.redirect(res, 303, '/');
    const notice =
      typeof error === 'string'
        ? { text: messageFor(error.slice(0, 64)), error: true }
        : linked === '1'
          ? { text: 'The sign-in method is linked to your account.', error: false }
          : undefined;
    const csrf = this.pages.csrfToken(auth.sid!);
    sendPage(
      this.http,
      res,
      200,
      accountPage(csrf, auth.roles.includes(ROLE_ADMIN), this.registry.list(), notice, this.config.openidProvider),
    );
  }

  @Public()
  @Get('admin')
  async admin(@Req() req: Request, @Res() res: Response) {
    const auth = await this.pages.authenticate(req, res);
    if (!auth) return this.http.redirect(res, 303, '/?error=session_expired');
    const csrf = this.pages.csrfToken(auth.sid!);
    if (!auth.roles.includes(ROLE_ADMIN)) return sendPage(this.http, res, 403, forbiddenPage(csrf));
    sendPage(this.http, res, 200, adminPage(csrf, this.config.openidProvider));
  }
}
