import { Body, Controller, HttpCode, Injectable, Param, Post, Req, Res } from '@nestjs/common';
import { HttpAdapterHost, type AbstractHttpAdapter } from '@nestjs/core';
import { ApiExcludeController } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import type Provider from 'oidc-provider';
import { PageSessionService } from '../auth/page-session.service.js';
import { escapeHtml } from '../common/html.js';
import type { ResolvedConfig } from '../config/app-secret.js';
import { InjectConfig } from '../config/config.module.js';
import { Public } from '../http/public.decorator.js';
import { RateLimit } from '../http/rate-limit.decorator.js';
import { requestContext } from '../http/request-context.js';
import { PAGE_CSP, sendPage } from '../web/pages.js';
import { consentPage } from './consent-page.js';
import { ConsentsService } from './consents.service.js';
import { INTERACTION_UID } from './interaction-login.guard.js';
import { INTERACTION_PATH, OIDC_SCOPES, OidcProviderService, SCOPE_CLAIMS, TOKEN_SCOPES } from './oidc-provider.service.js';
import { OidcSessionsService, type BrowserLogin } from './oidc-sessions.service.js';

type Details = Awaited<ReturnType<Provider['interactionDetails']>>;
/** The pages' CSRF header (PageSessionService); an HTML form can send it only as a field. */
/**
 * Every claim a scope of ours names, and `azp` (which rides with `sub`): the claims oidc-provider supports here
 * (claimsSupported), so a claims parameter never asks for one a consent cannot give, and never loops back to the page.
 */
const KNOWN_CLAIMS = new Set([...Object.values(SCOPE_CLAIMS).flat(), 'azp']);

/** What a consent prompt asks: the known scopes and claims, those asked now and those allowed before. */
interface Asked {
  scopes: string[];
  claims: string[];
  already: string[];
}

/**
 * The consent prompt of oidc-provider's interaction (OIDC Core §3.1.2.4), for third-party clients (SECURITY.md O6):
 * the page, and the person's answer. The answer is bound to this browser's interaction (oidc-provider's interaction
 * cookie, SameSite=Lax and path-scoped, read by interactionDetails: another browser, or a cross-site POST, has none)
 * and to this browser's session here (its CSRF token, and no other Origin): a page elsewhere cannot post Allow for the
 * person. What is granted is read from the interaction on the server, never from the form.
 */
@Injectable()
export class ConsentInteraction {
  private readonly host: string;

  constructor(
    private readonly adapterHost: HttpAdapterHost,
    private readonly op: OidcProviderService,
    private readonly bridge: OidcSessionsService,
    private readonly consents: ConsentsService,
    private readonly pages: PageSessionService,
    @InjectConfig() private readonly config: ResolvedConfig,
  ) {
    this.host = new URL(config.publicUrl).host;
  }

  /** Nest's adapter-neutral response API: every answer goes through it (docs/fastify-trial.md, step 1). */
  private get http() {
    return this.adapterHost.httpAdapter;
  }

  /** GET /interaction/:uid at the consent prompt: the page, for the person the interaction signed in. */
  async show(details: Details, req: Request, res: Response): Promise<void> {
    const browser = await this.bridge.browser(req, res);
    if (!this.samePerson(details, browser)) return sendPage(this.http, res, 400, expiredPage());
    const client = await this.op.provider.Client.find(String(details.params.client_id));
    if (!client) return sendPage(this.http, res, 400, expiredPage());
    const asked = this.asked(details);
    const redirectUri = typeof details.params.redirect_uri === 'string' ? details.params.redirect_uri : client.redirectUris?.[0];
    // Under the service-wide no-referrer a browser posts this page's form with `Origin: null` (Fetch §3.1, "append a
    // request Origin header"), which decide() refuses like any foreign Origin; same-origin sends ours with the POST and
    // still nothing to another site.
    this.http.setHeader(res, 'Referrer-Policy', 'same-origin');
    sendConsentPage(
      this.http,
      res,
      redirectUri,
      consentPage({
        uid: details.uid,
        clientName: client.clientName ?? client.clientId,
        clientHost: redirectUri ? new URL(redirectUri).host : client.clientId,
        host: this.host,
        ...asked,
        csrf: this.pages.csrfToken(browser!.sid),
      }),
    );
  }

  /** POST /interaction/:uid/consent: Allow makes the grant and remembers the consent; Deny is access_denied. */
  async decide(uid: string, decision: unknown, csrf: unknown, req: Request, res: Response): Promise<void> {
    const details = INTERACTION_UID.test(uid) ? await this.op.interactionDetails(req, res).catch(() => undefined) : undefined;
    if (!details || details.uid !== uid || details.prompt.name !== 'consent') return sendPage(this.http, res, 400, expiredPage());
    // The pages' own rule for a state-changing request (PageSessionService.authenticate): the session's CSRF token,
    // and no Origin but ours. Without both this is no browser session, and nothing is decided.
    // The token is the form's field, never a header: a form cannot set one.
    const browser = await this.bridge.browser(req, res, typeof csrf === 'string' ? csrf : null);
    if (!this.samePerson(details, browser)) return sendPage(this.http, res, 403, forbiddenPage());
    if (decision !== 'allow') {
      const to = await this.op.interactionResult(req, res, {
        error: 'access_denied',
        error_description: 'the person did not allow this application access',
      });
      await this.consents.deny(details.session!.accountId, String(details.params.client_id), this.asked(details), requestContext(req));
      return redirect(this.http, res, to);
    }
    const { scopes, claims } = this.asked(details);
    const accountId = details.session!.accountId;
    const clientId = String(details.params.client_id);
    const found = details.grantId ? await this.op.provider.Grant.find(details.grantId) : undefined;
    const grant =
      found?.accountId === accountId && found.clientId === clientId ? found : new this.op.provider.Grant({ accountId, clientId });
    if (scopes.length) grant.addOIDCScope(scopes.join(' '));
    const resourceScopes = scopes.filter((s) => TOKEN_SCOPES.includes(s));
    if (resourceScopes.length) grant.addResourceScope(this.config.jwt.audience, resourceScopes.join(' '));
    if (claims.length) grant.addOIDCClaims(claims);
    const grantId = await grant.save();
    await this.consents.give(accountId, clientId, { scopes, claims }, requestContext(req));
    await this.consents.trackGrant(grantId, accountId, clientId);
    redirect(this.http, res, await this.op.interactionResult(req, res, { consent: { grantId } }));
  }

  private samePerson(details: Details, browser: BrowserLogin | undefined): boolean {
    return browser !== undefined && details.session?.accountId === browser.sub;
  }

  /**
   * The known scopes the request asks for (oidc-provider already dropped offline_access unless prompt=consent, OIDC
   * Core §11), and the known claims of a claims parameter. Asked now: what the grant misses, or everything with
   * prompt=consent (consent_prompt), which asks again always.
   */
  private asked(details: Details): Asked {
    const requested = String(details.params.scope ?? '')
      .split(' ')
      .filter((s) => (OIDC_SCOPES as readonly string[]).includes(s));
    const prompt = details.prompt as { reasons: string[]; details: Record<string, unknown> };
    const again = prompt.reasons.includes('consent_prompt');
    const missing = new Set<string>([
      ...((prompt.details.missingOIDCScope as string[] | undefined) ?? []),
      ...Object.values((prompt.details.missingResourceScopes as Record<string, string[]> | undefined) ?? {}).flat(),
    ]);
    const scopes = requested.filter((s) => again || missing.has(s));
    const claims = [...this.requestedClaims(details)].filter(
      (c) => again || ((prompt.details.missingOIDCClaims as string[] | undefined) ?? []).includes(c),
    );
    return { scopes, claims, already: requested.filter((s) => !scopes.includes(s) && s !== 'openid') };
  }

  /** The known claims named in the request's claims parameter (OIDC Core §5.5). */
  private requestedClaims(details: Details): Set<string> {
    const raw = details.params.claims;
    if (typeof raw !== 'string') return new Set();
    try {
      const parsed = JSON.parse(raw) as { id_token?: object; userinfo?: object };
      return new Set([...Object.keys(parsed.id_token ?? {}), ...Object.keys(parsed.userinfo ?? {})].filter((c) => KNOWN_CLAIMS.has(c)));
    } catch {
      return new Set();
    }
  }
}

/** The person's answer to the consent page. */
@ApiExcludeController()
@Public()
@Controller(INTERACTION_PATH.slice(1))
export class OidcConsentController {
  constructor(private readonly consent: ConsentInteraction) {}

  @RateLimit('signIn')
  @Post(':uid/consent')
  @HttpCode(303)
  async decide(@Param('uid') uid: string, @Body() body: unknown, @Req() req: Request, @Res() res: Response): Promise<void> {
    const form = body && typeof body === 'object' ? (body as Record<string, unknown>) : {};
    await this.consent.decide(uid, form.decision, form.csrf, req, res);
  }
}

/**
 * The consent page under the pages' CSP, but for form-action: browsers apply it to the redirects that follow a form's
 * submission too (CSP Level 3 §6.3.1), and the answer ends at the client's redirect URI, through oidc-provider's
 * resume. So the form may go to us and to that URI's origin only (exactly as registered, checked by oidc-provider);
 * a custom scheme's URI is allowed by its scheme.
 */
function sendConsentPage(http: AbstractHttpAdapter, res: Response, redirectUri: string | undefined, body: string): void {
  let target = '';
  if (redirectUri) {
    const u = new URL(redirectUri);
    target = u.protocol === 'http:' || u.protocol === 'https:' ? ` ${u.origin}` : ` ${u.protocol}`;
  }
  sendPage(http, res, 200, body, PAGE_CSP.replace("form-action 'self'", `form-action 'self'${target}`));
}

function redirect(http: AbstractHttpAdapter, res: Response, to: string): void {
  http.setHeader(res, 'Cache-Control', 'no-store');
  http.redirect(res, 303, to);
}

function expiredPage(): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign-in expired</title><link rel="stylesheet" href="/assets/pages.css"></head>
<body><main class="card narrow"><h1>This sign-in has expired</h1>
<p>${escapeHtml('It took too long, was finished already, or was started in another browser. Go back to the application and sign in again.')}</p>
</main></body></html>`;
}

function forbiddenPage(): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Not allowed</title><link rel="stylesheet" href="/assets/pages.css"></head>
<body><main class="card narrow"><h1>This answer was not accepted</h1>
<p>${escapeHtml('It did not come from the consent page of this browser’s sign-in. Go back to the application and sign in again.')}</p>
</main></body></html>`;
}
