import { Controller, HttpCode, Injectable, Post, Req, Res, UseGuards, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { ApiFoundResponse, ApiOkResponse, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import type { ProviderProfile } from '../accounts/provider-profile.js';
import { DomainError } from '../common/domain-error.js';
import { escapeHtml } from '../common/html.js';
import type { ResolvedConfig } from '../config/app-secret.js';
import { InjectConfig } from '../config/config.module.js';
import { Public } from '../http/public.decorator.js';
import { RateLimit } from '../http/rate-limit.decorator.js';
import { EnabledProviderGuard, enabledProvider, SignInProvider } from './providers/enabled-provider.guard.js';
import { VerifiedProfile } from './providers/provider-auth.guard.js';
import type { EnabledProvider } from './providers/provider-registry.js';
import { SignInCallbackGuard } from './providers/sign-in.guards.js';
import { SignInService } from './sign-in.service.js';
import { markPostedAuthorizationResponse } from './page-session.service.js';

/**
 * The fields of an authorization response a provider may post (RFC 6749 §4.1.2 and §4.1.2.1, RFC 9207 `iss`, OIDC
 * `id_token`, Apple's `user`); nothing else is carried over.
 */
const RESPONSE_FIELDS = ['code', 'state', 'error', 'error_description', 'error_uri', 'iss', 'id_token', 'user'] as const;

function responseFields(body: unknown): Record<string, string> {
  const form = (body !== null && typeof body === 'object' ? body : {}) as Record<string, unknown>;
  const fields: Record<string, string> = {};
  for (const name of RESPONSE_FIELDS) {
    const value = Object.hasOwn(form, name) ? form[name] : undefined;
    // A repeated field (an array from the form parser) is no response of any provider's.
    if (typeof value === 'string') fields[name] = value;
  }
  return fields;
}

function assertFormPost(provider: EnabledProvider): void {
  if (provider.strategy.responseMode !== 'form_post') {
    throw new DomainError('unknown_provider', `sign-in provider "${provider.id}" does not post its response`);
  }
}

/** The same policy as the pages': no inline script (autosubmit.js is ours), the form may post only to us. */
const REPOST_CSP = "default-src 'none'; script-src 'self'; style-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/**
 * The page that posts the provider's fields once more, from our own origin. Submitted at once by /assets/autosubmit.js;
 * without script, a button does it.
 */
function repostPage(action: string, fields: Record<string, string>): string {
  const inputs = Object.entries(fields)
    .map(([name, value]) => `<input type="hidden" name="${escapeHtml(name)}" value="${escapeHtml(value)}">`)
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Signing in…</title><link rel="stylesheet" href="/assets/pages.css"><script src="/assets/autosubmit.js"></script></head>
<body><main class="card"><h1>Signing in…</h1>
<form method="post" action="${escapeHtml(action)}">
${inputs}
<noscript><p>Press Continue to finish signing in.</p></noscript><button class="btn" type="submit">Continue</button>
</form></main></body></html>`;
}

/**
 * The resumed callback: the posted response becomes the request's query, where the whole callback path reads a
 * response (SignInService.checkCallback, passport-oauth2, the state stores, the audit of a provider's error), exactly
 * as for a provider that redirects. Form Post Response Mode carries the same parameters, only in the body.
 */
@Injectable()
export class FormPostResponseGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const req = context.switchToHttp().getRequest<Request>();
    assertFormPost(enabledProvider(req));
    // Express 5 reads `query` through a getter of the request's prototype; this request's own value shadows it.
    markPostedAuthorizationResponse(req);
    Object.defineProperty(req, 'query', { value: responseFields(req.body), configurable: true, enumerable: true, writable: true });
    return true;
  }
}

/**
 * Callbacks of providers that post their response (OAuth 2.0 Form Post Response Mode; Sign in with Apple requires it).
 * The provider's page posts it to us from the provider's site: a cross-site POST, on which the browser leaves out our
 * SameSite=Lax cookies (RFC 6265bis §5.6.7.1), the login-state cookie among them, so the state could not be checked.
 * Rather than relax that cookie (SameSite=None would send it on every cross-site request, SECURITY.md S3), the first
 * POST only answers with a page of ours that posts the same fields again to `…/callback/resume`: a same-site POST, with
 * our cookies, where the sign-in goes on as any other callback. Nothing is read, checked or spent before that.
 */
@ApiTags('sign-in')
@RateLimit('signIn')
@Public()
@Controller('auth')
export class FormPostCallbackController {
  constructor(
    private readonly adapterHost: HttpAdapterHost,
    private readonly signIn: SignInService,
    @InjectConfig() private readonly config: ResolvedConfig,
  ) {}

  /** Nest's adapter-neutral response API: every answer goes through it (docs/fastify-trial.md, step 1). */
  private get http() {
    return this.adapterHost.httpAdapter;
  }

  @Post(':provider/callback')
  @HttpCode(200)
  @UseGuards(EnabledProviderGuard)
  @ApiParam({ name: 'provider', type: String })
  @ApiOperation({ summary: 'A provider’s posted response (form_post): a page that posts it again, same-site' })
  @ApiOkResponse({ description: 'the re-posting page' })
  repost(@SignInProvider() provider: EnabledProvider, @Req() req: Request, @Res() res: Response): void {
    assertFormPost(provider);
    // The page carries the provider's code: never leak it in a Referer (SECURITY.md F8), never cache it.
    this.http.setHeader(res, 'Referrer-Policy', 'no-referrer');
    this.http.setHeader(res, 'Cache-Control', 'no-store');
    this.http.setHeader(res, 'Content-Security-Policy', REPOST_CSP);
    this.http.setHeader(res, 'Content-Type', 'text/html; charset=utf-8');
    this.http.reply(
      res,
      repostPage(`${this.config.publicUrl}/auth/${encodeURIComponent(provider.id)}/callback/resume`, responseFields(req.body)),
      200,
    );
  }

  @Post(':provider/callback/resume')
  @UseGuards(EnabledProviderGuard, FormPostResponseGuard, SignInCallbackGuard)
  @ApiParam({ name: 'provider', type: String })
  @ApiOperation({ summary: 'The posted response, sent again from our own page: 302 to returnTo with ?code= or ?error=' })
  @ApiFoundResponse({ description: 'to returnTo' })
  async resume(
    @SignInProvider() provider: EnabledProvider,
    @VerifiedProfile() profile: ProviderProfile,
    @Req() req: Request,
    @Res() res: Response,
  ): Promise<void> {
    this.http.setHeader(res, 'Referrer-Policy', 'no-referrer');
    this.http.setHeader(res, 'Cache-Control', 'no-store');
    this.http.redirect(res, 302, await this.signIn.finish(provider, req, profile));
  }
}
