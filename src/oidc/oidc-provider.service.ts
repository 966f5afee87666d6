import { Injectable, Logger, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import type { Request, Response } from 'express';
import { AsyncLocalStorage } from 'node:async_hooks';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type Koa from 'koa';
import Provider, {
  errors,
  interactionPolicy,
  type Adapter,
  type AdapterPayload,
  type ClientMetadata,
  type Configuration,
  type KoaContextWithOIDC,
} from 'oidc-provider';
import { AccountsService } from '../accounts/accounts.service.js';
import type { User } from '../accounts/user.entity.js';
import { RequestMemo } from './request-memo.js';
import { effectiveRoles } from '../tokens/token-roles.js';
import { ClientsService } from '../clients/clients.service.js';
import { deriveKey } from '../common/crypto.js';
import { escapeHtml } from '../common/html.js';
import { requestContext } from '../http/request-context.js';
import { CONTROL_CHARACTERS } from '../http/validators.js';
import type { ResolvedConfig } from '../config/app-secret.js';
import { InjectConfig } from '../config/config.module.js';
import { PageSessionService } from '../auth/page-session.service.js';
import { RevocationsService } from '../tokens/revocations.service.js';
import { SigningKeysService, type ActiveKey } from '../tokens/signing-keys.service.js';
import { OidcRepository, type OAuthClientRow } from './oidc.repository.js';
import { OidcSessionsService, SessionEnded } from './oidc-sessions.service.js';
import { ConsentsService } from './consents.service.js';
import { providerFetch, sendLogoutTokensFromQueueOnly } from './logout-token-delivery.js';

/** Where oidc-provider answers (its issuer is PUBLIC_URL itself; discovery stays ours). */
export const OP_MOUNT = '/oidc';
/** Where oidc-provider sends the browser to sign in: our controller (oidc-interaction.controller.ts). */
export const INTERACTION_PATH = '/interaction';
/** The scopes every client with the code grant may ask for (shared/docs/http-api.md). */
export const OIDC_SCOPES = ['openid', 'offline_access', 'profile', 'email', 'roles'] as const;
/** Which claims each scope grants, at UserInfo and in ID tokens (OIDC Core §5.4, plus our `roles`). */
export const SCOPE_CLAIMS: Record<string, string[]> = {
  openid: ['sub'],
  profile: ['name', 'picture'],
  email: ['email', 'email_verified'],
  roles: ['roles'],
};
/**
 * The access token's member listing the claims its client asked for at UserInfo with the `claims` parameter (OIDC Core
 * §5.5) and was granted: our UserInfo reads the token, not oidc-provider's grant, so the token carries them.
 */
export const USERINFO_CLAIMS = 'userinfo_claims';
/** A POSTed authorization request becomes a GET no longer than browsers and servers take in a URL. */
const MAX_AUTHORIZATION_QUERY = 8_000;
/** Marks an authorization request made again after its browser session was mirrored (see mirrorBrowserSession). */
const MIRRORED = 'sls_mirrored';
/**
 * oidc-provider's own pages (error, form_post) get this instead of the service's default: its form_post posts to the
 * client's redirect URI, which `form-action 'self'` would block; its inline script is allowed by hash, which it adds
 * itself (helpers/script_src_sha.js).
 */
const OP_CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; frame-ancestors 'none'; base-uri 'none'";
/** The access token's scopes: what the client may read at UserInfo (offline_access only governs refresh tokens). */
export const TOKEN_SCOPES = ['openid', 'profile', 'email', 'roles'];

/**
 * The oidc-provider sessions read in the current request, by id. An authorization request reads the browser's twice
 * (mirrorBrowserSession, then oidc-provider's own session middleware); one request only, never longer, and a write of
 * the record in the request forgets it (StoreAdapter).
 */
const sessionReads = new AsyncLocalStorage<Map<string, Promise<AdapterPayload | undefined>>>();

type Built = { kid: string; provider: Provider; handle: (req: IncomingMessage, res: ServerResponse) => Promise<void> };

/**
 * oidc-provider 9 (OpenID-certified) as the protocol façade over our accounts, browser session, sessions, signing keys
 * and API clients: docs/openid-provider.md says why and how. oidc-provider takes its signing keys once, at
 * construction, and does not reload them (node-oidc-provider#449, #651), so an instance belongs to one active key of
 * ours and the next request after a rotation (on this instance, or read from the feed on another) builds a new one.
 * Nothing lives in an instance but configuration: every protocol record is in the database.
 */
@Injectable()
export class OidcProviderService implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('OpenIdProvider');
  private readonly cookieKey: string;
  private readonly publicUrl: URL;
  private built?: Built;
  private timer?: NodeJS.Timeout;
  /**
   * The account rows read in a request (the token request asks twice: findAccount for the ID token, extraTokenClaims
   * for the roles). One request only, never longer: the next request reads the row again, so a disabled account or
   * new roles count at once, on every instance.
   */
  private readonly users = new RequestMemo<User | null>();

  constructor(
    private readonly keys: SigningKeysService,
    private readonly accounts: AccountsService,
    private readonly clients: ClientsService,
    private readonly revocations: RevocationsService,
    private readonly bridge: OidcSessionsService,
    private readonly repo: OidcRepository,
    private readonly pages: PageSessionService,
    @InjectConfig() private readonly config: ResolvedConfig,
    private readonly consents: ConsentsService,
  ) {
    this.cookieKey = deriveKey(config.appSecret, 'openid-provider-cookies').toString('base64url');
    this.publicUrl = new URL(config.publicUrl);
  }

  onApplicationBootstrap(): void {
    this.timer = setInterval(
      () => void this.purgeExpired().catch((e: Error) => this.logger.warn(`expired OpenID Provider records not purged: ${e.message}`)),
      3_600_000,
    );
    this.timer.unref();
  }

  onModuleDestroy(): void {
    clearInterval(this.timer);
  }

  /** The hourly purge (OidcRepository.purgeExpired): expired records, and bindings of sessions long gone. */
  purgeExpired(): Promise<void> {
    return this.repo.purgeExpired(this.config.jwt.refreshIdleTtl * 1000);
  }

  /** The instance for the current signing key. */
  get provider(): Provider {
    return this.current().provider;
  }

  /**
   * The interaction a browser is in (oidc-provider's interactionDetails), from Node's request and response: Express's
   * are Node's, Fastify's wrap them (`raw`), and oidc-provider reads and writes Node's.
   */
  interactionDetails(req: object, res: object): ReturnType<Provider['interactionDetails']> {
    return this.provider.interactionDetails(nodeObject(req), nodeObject(res));
  }

  /** Where the interaction resumes with `result` (oidc-provider's interactionResult), as interactionDetails. */
  interactionResult(
    req: object,
    res: object,
    ...rest: Parameters<Provider['interactionResult']> extends [unknown, unknown, ...infer R] ? R : never
  ) {
    return this.provider.interactionResult(nodeObject(req), nodeObject(res), ...rest);
  }

  /** Serves a request under OP_MOUNT. */
  async handle(req: Request, res: Response): Promise<void> {
    const { handle } = this.current();
    // oidc-provider builds its URLs from the request (OIDCContext.urlFor uses ctx.href): pin host and protocol to
    // PUBLIC_URL, so no header a caller sends shapes a URL we hand out (SECURITY.md F4).
    req.headers.host = this.publicUrl.host;
    req.headers['x-forwarded-proto'] = this.publicUrl.protocol.slice(0, -1);
    delete req.headers['x-forwarded-host'];
    // Express has read the body already; oidc-provider parses the bytes as sent, duplicates and all (it refuses
    // repeated parameters, RFC 6749 §3.1).
    const raw = (req as Request & { rawBody?: Buffer }).rawBody;
    if (Buffer.isBuffer(raw)) req.body = raw;
    // As a mounted app sees it: the path below the mount (oidc-provider finds its mount from originalUrl).
    req.url = req.originalUrl.slice(OP_MOUNT.length) || '/';
    res.setHeader('Content-Security-Policy', OP_CSP);
    await handle(req, res);
  }

  private current(): Built {
    const key = this.keys.signingKey();
    // The active key and the retired ones still published (a retired one goes when its last token expired).
    const kid = [key.kid, ...this.keys.retiredSigningKeys().map((k) => k.kid)].join(' ');
    if (this.built?.kid !== kid) {
      const provider = this.build(key);
      this.built = { kid, provider, handle: provider.callback() as Built['handle'] };
      this.logger.log(`OpenID Provider ready, signing with ${key.alg} key ${key.kid}`);
    }
    return this.built;
  }

  private build(key: ActiveKey): Provider {
    const { config, bridge, revocations } = this;
    const audience = config.jwt.audience;
    const alg = key.alg;
    const secure = this.publicUrl.protocol === 'https:';

    const policy = interactionPolicy.base();
    // First of the login checks: a client's sign-in is our browser session's. oidc-provider's own session only
    // mirrors it, so a browser signed out here is never signed in to a client (prompt=none → login_required), and a
    // mirror left from another user or an ended browser session never signs anyone in.
    policy.get('login')!.checks.add(
      // A check added after the prompt is built gets no default error: login_required, as OIDC Core §3.1.2.6 says.
      new interactionPolicy.Check('browser_session', 'End-User authentication at this service is required', 'login_required', (ctx) =>
        this.needsLogin(ctx),
      ),
      0,
    );

    const configuration: Configuration = {
      adapter: this.adapterClass(),
      clients: [],
      jwks: opKeystore(key, this.keys.retiredSigningKeys()),
      cookies: {
        keys: [this.cookieKey],
        // RFC 6265bis §4.1.3: __Host- where the cookie is for the whole site; the interaction cookies are scoped to a
        // path, which __Host- forbids, so __Secure- (SECURITY.md L2).
        names: {
          session: secure ? '__Host-sls_op_session' : 'sls_op_session',
          interaction: secure ? '__Secure-sls_op_interaction' : 'sls_op_interaction',
          resume: secure ? '__Secure-sls_op_resume' : 'sls_op_resume',
        },
      },
      scopes: [...OIDC_SCOPES],
      // `azp` rides with `sub` (below, findAccount): oidc-provider has no hook for ID token claims, and the contract
      // wants it in every ID token (OIDC Core §2 allows it with a single audience).
      claims: { ...SCOPE_CLAIMS, openid: ['sub', 'azp'] },
      subjectTypes: ['public'],
      responseTypes: ['code'],
      clientDefaults: {
        grant_types: ['authorization_code'],
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_basic',
        id_token_signed_response_alg: alg,
      },
      enabledJWA: { idTokenSigningAlgValues: [alg] },
      clientAuthMethods: ['client_secret_basic', 'client_secret_post', 'none'],
      // OIDC Core §3.1.2.1 requires redirect_uri; never default it, so it is always compared (RFC 9700 §4.1.3).
      allowOmittingSingleRegisteredRedirectUri: false,
      // A public client must use PKCE (RFC 9700 §2.1.1); a confidential one may (the code is bound to it anyway).
      pkce: { required: (_ctx, client) => client.tokenEndpointAuthMethod === 'none' },
      extraClientMetadata: { properties: ['first_party'] },
      // Keycloak's kc_idp_hint as `idp`: straight to that provider, no chooser (oidc-interaction.controller.ts).
      // oidc-provider drops parameters it does not know before the interaction sees them.
      extraParams: ['idp'],
      // Our back-channel logout sends use it (logout-token-delivery.ts); everything else gets oidc-provider's own.
      fetch: providerFetch,
      features: {
        // Back-Channel Logout 1.0: for client.backchannelLogout and discovery; BackchannelLogoutService sends, not
        // end_session (sendLogoutTokensFromQueueOnly below), so each logout token goes out once.
        backchannelLogout: { enabled: true },
        devInteractions: { enabled: false },
        // UserInfo is ours (/oidc/userinfo): the access tokens are our JWTs, and oidc-provider's UserInfo takes only
        // audience-less tokens (actions/userinfo.js). Enabled here all the same, at our path, which OidcModule never
        // hands to oidc-provider: disabled, oidc-provider refuses a claims parameter with a userinfo member
        // (authorization/claims.js), which OIDC Core §5.5 allows and our discovery promises (oidcc-claims-essential).
        userinfo: { enabled: true },
        claimsParameter: { enabled: true },
        // RFC 7009 and RFC 7662 are ours (client-tokens.controller.ts): oidc-provider's refuse every JWT, i.e. every
        // access token our clients hold (shared/reject_structured_tokens.js; docs/openid-provider.md).
        revocation: { enabled: false },
        introspection: { enabled: false },
        // RP-initiated logout 1.0: ends the person's session at the service (endSession below); no confirmation page
        // when the client proves whose session it is with its ID token (shared/docs/http-api.md).
        rpInitiatedLogout: {
          enabled: true,
          logoutSource: (ctx, form) => {
            const hint = ctx.oidc.entities.IdTokenHint as { payload: { sub?: string } } | undefined;
            const proven =
              hint?.payload.sub !== undefined && hint.payload.sub === ctx.oidc.session?.accountId && ctx.oidc.client !== undefined;
            ctx.body = proven ? autoLogoutPage(form) : confirmLogoutPage(form, this.publicUrl.host, ctx.oidc.client?.clientName);
          },
          postLogoutSuccessSource: (ctx) => {
            ctx.body = signedOutPage();
          },
        },
        resourceIndicators: {
          enabled: true,
          // Every access token is for our APIs (JWT_AUDIENCE), even without a `resource` parameter.
          defaultResource: () => audience,
          useGrantedResource: () => true,
          getResourceServerInfo: (_ctx, resource) => {
            if (resource !== audience) throw new errors.InvalidTarget('unknown resource');
            return {
              scope: TOKEN_SCOPES.join(' '),
              audience,
              accessTokenTTL: config.jwt.accessTokenTtl,
              accessTokenFormat: 'jwt',
              jwt: { sign: { alg } },
            };
          },
        },
      },
      interactions: { url: (_ctx, interaction) => `${INTERACTION_PATH}/${interaction.uid}`, policy },
      routes: { userinfo: '/userinfo' },
      findAccount: async (ctx, id) => {
        const user = await this.userFor(ctx, id);
        if (!user || user.disabled) return undefined;
        const claims = {
          sub: user.id,
          name: user.name ?? undefined,
          picture: user.picture ?? undefined,
          email: user.email ?? undefined,
          email_verified: user.email ? user.emailVerified : undefined,
          roles: effectiveRoles(user),
        };
        // azp: the client the ID token is for, the current request's.
        return { accountId: user.id, claims: () => ({ ...claims, azp: Provider.ctx?.oidc.client?.clientId }) };
      },
      loadExistingGrant: (ctx) => this.grantFor(ctx),
      issueRefreshToken: (_ctx, client, code) =>
        client.grantTypeAllowed('refresh_token') && (firstParty(client) || code.scopes.has('offline_access')),
      rotateRefreshToken: true,
      // Our RFC 9068 claims: the session of ours the tokens belong to (revoked through the feed, on every instance, like
      // every access token) and the person's roles now.
      extraTokenClaims: async (ctx, token) => {
        if (!('accountId' in token) || !token.accountId) return undefined;
        const code = ctx.oidc.entities.AuthorizationCode;
        const sid = await bridge
          .sessionForGrant({
            grantId: token.grantId!,
            sessionUid: token.sessionUid,
            accountId: token.accountId,
            clientId: token.clientId!,
            oidcSid: code?.sid,
          })
          .catch((e: unknown) => {
            throw e instanceof SessionEnded ? new errors.InvalidGrant(e.message) : e;
          });
        const user = await this.userFor(ctx, token.accountId);
        if (!user || user.disabled) throw new errors.InvalidGrant('the account is disabled or no longer exists');
        return { sid, roles: effectiveRoles(user) };
      },
      formats: {
        customizers: {
          jwt: (ctx, _token, parts) => {
            // After a revocation in this very second, tokens start at the next one (RevocationsService.issuedAtFor).
            const sub = parts.payload.sub as string;
            parts.payload.nbf = parts.payload.iat;
            parts.payload.iat = revocations.issuedAtFor(sub);
            const userinfo = userinfoClaims(ctx.oidc.entities);
            if (userinfo.length) parts.payload[USERINFO_CLAIMS] = userinfo;
          },
        },
      },
      ttl: {
        AccessToken: config.jwt.accessTokenTtl,
        AuthorizationCode: config.codeTtl,
        IdToken: config.jwt.accessTokenTtl,
        Interaction: config.loginStateTtl,
        Session: config.jwt.refreshTokenTtl,
        Grant: config.jwt.refreshTokenTtl,
        RefreshToken: config.jwt.refreshTokenTtl,
      },
      renderError: (ctx, out) => {
        ctx.type = 'html';
        ctx.body = errorPage(String(out.error), typeof out.error_description === 'string' ? out.error_description : undefined);
      },
    };

    const provider = new Provider(config.publicUrl, configuration);
    provider.proxy = true;
    // Our secrets are stored as SHA-256 only: ClientsService compares them (constant time, the grace period after a
    // rotation, failures audited). The override node-oidc-provider#631 and #104 suggest; it rules out client_secret_jwt
    // and HS* ID tokens, which need the plain secret.
    const clients = this.clients;
    provider.Client.prototype.compareClientSecret = async function (this: { clientId: string }, actual: string) {
      const ctx = Provider.ctx;
      const caller = ctx ? requestContext(ctx.req as Request) : { ip: null, userAgent: null };
      return Boolean(await clients.authenticate(this.clientId, actual, caller));
    };
    // Every ID token carries `sid` (shared/docs/http-api.md), not only for clients with a back-channel logout URI: the
    // client can then match the logout token it gets later (Back-Channel Logout 1.0 §2.4) and a front-end can tell
    // sessions apart. oidc-provider decides this per client through includeSid (helpers/process_response_types.js).
    provider.Client.prototype.includeSid = () => true;
    sendLogoutTokensFromQueueOnly(provider);
    provider.use((ctx, next) => sessionReads.run(new Map(), () => this.around(provider, ctx, next)));
    provider.on('server_error', (_ctx, err: Error) => this.logger.error(err.stack ?? err.message));
    return provider;
  }

  /** Ours around every request oidc-provider serves. */
  private async around(provider: Provider, ctx: Koa.Context, next: Koa.Next): Promise<void> {
    if (ctx.method === 'POST' && ctx.path === provider.pathFor('authorization')) return this.postedAuthorization(ctx);
    // RP-Initiated Logout 1.0 §2: the end_session endpoint MUST take POST too; oidc-provider routes it, as the
    // authorization endpoint, only with a SameSite=None cookie. The same 303 to a GET (SECURITY.md O18).
    if (ctx.method === 'POST' && ctx.path === provider.pathFor('end_session')) return this.postedAuthorization(ctx);
    if (ctx.method === 'GET' && ctx.path === provider.pathFor('authorization') && (await this.mirrorBrowserSession(provider, ctx))) return;
    await next();
    // After oidc-provider ended its mirror and the grants in it, before the answer goes: our browser session too.
    const { oidc } = ctx as unknown as Partial<KoaContextWithOIDC>;
    if (oidc?.route === 'end_session_confirm' && ctx.status === 303 && oidc.params?.logout && oidc.session) {
      await this.endSession(oidc.session, ctx.req, ctx.res);
    }
  }

  /**
   * A browser signed in here whose oidc-provider session does not mirror that yet (signed in at our pages, or the
   * mirror is another user's or an ended session's) gets the mirror before the authorization request is processed:
   * written, bound, its cookie set, and the same request made again (once: MIRRORED marks it, so a browser that
   * refuses the cookie falls through to the login check instead of looping). Without this, `prompt=none` would answer
   * login_required to a person who is signed in (OIDC Core §3.1.2.1) only because no client signed them in yet.
   */
  private async mirrorBrowserSession(provider: Provider, ctx: Koa.Context): Promise<boolean> {
    if (ctx.query[MIRRORED] !== undefined) return false;
    const browser = await this.bridge.browser(ctx.req as Request, ctx.res as Response);
    if (!browser) return false;
    const current = await provider.Session.get(ctx);
    if (current.accountId === browser.sub && (await this.bridge.mirrors(current.uid, browser, ctx.req as Request))) return false;
    if (current.accountId) await current.destroy();
    const session = new provider.Session();
    session.loginAccount({ accountId: browser.sub, loginTs: browser.authTime });
    await session.save(this.config.jwt.refreshTokenTtl);
    await this.bridge.bind(session.uid, browser, ctx.req as Request);
    ctx.cookies.set(provider.cookieName('session'), session.jti, {
      httpOnly: true,
      sameSite: 'lax',
      secure: ctx.secure,
      maxAge: this.config.jwt.refreshTokenTtl * 1000,
    });
    const again = new URL(ctx.url, this.publicUrl);
    again.searchParams.set(MIRRORED, '1');
    ctx.status = 303;
    ctx.redirect(`${OP_MOUNT}${again.pathname}${again.search}`);
    return true;
  }

  /**
   * OIDC Core §3.1.2.1: the authorization endpoint MUST take POST too (form-encoded). oidc-provider 9 routes POST only
   * when its session cookie is `SameSite=None` (configuration.js, enableHttpPostMethods), because a client's
   * cross-site form POST carries no Lax cookie, so SSO and `prompt=none` would not see the person. We keep Lax (RFC
   * 6265bis §8.8) and answer the POST with a 303 to the same request as a GET, a top-level navigation that carries our
   * cookies: nothing is possible by POST that a link to the GET did not allow already. The parameters are taken as
   * sent, repeats included, so oidc-provider still refuses repeated parameters (RFC 6749 §3.1). The end_session
   * endpoint's POST (RP-Initiated Logout 1.0 §2) is answered the same way.
   */
  private postedAuthorization(ctx: Koa.Context): void {
    // Read before us by the body middleware, on either adapter (src/bootstrap-fastify.ts reads it before Nest's).
    const body = (ctx.req as IncomingMessage & { body?: unknown }).body;
    const form = ctx.is('application/x-www-form-urlencoded') && Buffer.isBuffer(body) ? body.toString('utf8') : undefined;
    const query = form === undefined ? undefined : new URLSearchParams(form).toString();
    if (query === undefined || query.length > MAX_AUTHORIZATION_QUERY) {
      ctx.status = 400;
      ctx.type = 'html';
      ctx.body = errorPage(
        'invalid_request',
        query === undefined
          ? 'a POST authorization request is a form (application/x-www-form-urlencoded)'
          : 'the authorization request is too large',
      );
      return;
    }
    ctx.set('Cache-Control', 'no-store');
    ctx.status = 303;
    ctx.redirect(`${OP_MOUNT}${ctx.path}?${query}`);
  }

  /**
   * RP-initiated logout confirmed: the browser session the mirror was bound to ends (audited as the person's own
   * logout), its cookie goes, and with it SSO in this browser. oidc-provider has revoked the grants of the mirror, which
   * ended their sessions of ours (revokeByGrantId). The request is oidc-provider's own form, proven by its xsrf field
   * (shared/xsrf.js), not one of our pages: the binding, not our CSRF-guarded cookie check, names the session.
   */
  private async endSession(
    session: { uid: string; accountId?: string },
    incoming: IncomingMessage,
    outgoing: ServerResponse,
  ): Promise<void> {
    if (!session.accountId) return;
    const ended = await this.bridge.endBrowserSession(session.uid, session.accountId, requestContext(incoming as Request));
    if (ended) this.pages.clear(outgoing as Response);
  }

  /** The account row, read once per request (`users`). */
  private userFor(ctx: { req?: object } | undefined, id: string): Promise<User | null> {
    return this.users.read(ctx?.req, id, () => this.accounts.findUser(id));
  }

  /** The browser_session check: true when this request must sign in (or answer login_required). */
  private async needsLogin(ctx: KoaContextWithOIDC): Promise<boolean> {
    const browser = await this.bridge.browser(ctx.req as Request, ctx.res as Response);
    const session = ctx.oidc.session!;
    if (!browser || session.accountId !== browser.sub) return true;
    // Back from our interaction, which signed this browser session in: from now on the mirror is bound to it.
    if (ctx.oidc.result?.login) {
      await this.bridge.bind(session.uid, browser, ctx.req as Request);
      return false;
    }
    return !(await this.bridge.mirrors(session.uid, browser, ctx.req as Request));
  }

  /**
   * A first-party client has consent by registration (Keycloak's "consent required: off"): its grant takes what it
   * asks for, once this browser's session at the service is the mirror's. A third-party client's grant is what the
   * person consented to (ConsentsService.grantFromConsent).
   */
  private async grantFor(ctx: KoaContextWithOIDC) {
    const client = ctx.oidc.client!;
    const session = ctx.oidc.session!;
    const grantId = (ctx.oidc.result?.consent as { grantId?: string } | undefined)?.grantId ?? session.grantIdFor(client.clientId);
    const existing = grantId ? await ctx.oidc.provider.Grant.find(grantId) : undefined;
    // Third-party: what the person consented to (ConsentsService; SECURITY.md O6).
    if (!firstParty(client)) {
      const known = { audience: this.config.jwt.audience, oidcScopes: OIDC_SCOPES, resourceScopes: TOKEN_SCOPES };
      return this.consents.grantFromConsent(ctx, existing, known);
    }
    const browser = await this.bridge.browser(ctx.req as Request, ctx.res as Response);
    if (!browser || browser.sub !== session.accountId) return existing;
    const grant = existing ?? new ctx.oidc.provider.Grant({ accountId: session.accountId, clientId: client.clientId });
    const requested = String(ctx.oidc.params?.scope ?? '')
      .split(' ')
      .filter(Boolean);
    grant.addOIDCScope(requested.filter((s) => (OIDC_SCOPES as readonly string[]).includes(s)).join(' '));
    grant.addResourceScope(this.config.jwt.audience, requested.filter((s) => TOKEN_SCOPES.includes(s)).join(' '));
    const claims = ctx.oidc.claims as { id_token?: object; userinfo?: object };
    const asked = [...Object.keys(claims.id_token ?? {}), ...Object.keys(claims.userinfo ?? {})];
    if (asked.length) grant.addOIDCClaims(asked);
    await grant.save();
    return grant;
  }

  /** oidc-provider's storage on our database, with our clients and our sessions deciding what still exists. */
  private adapterClass(): new (model: string) => Adapter {
    const { repo, bridge, config } = this;
    return class StoreAdapter implements Adapter {
      constructor(private readonly model: string) {}

      async upsert(id: string, payload: AdapterPayload, expiresIn: number): Promise<void> {
        await repo.upsert(this.model, id, payload, expiresIn);
        this.forget(id);
      }

      /** A Session record written in this request is read again from the database (sessionReads). */
      private forget(id: string): void {
        if (this.model === 'Session') sessionReads.getStore()?.delete(id);
      }

      async find(id: string): Promise<AdapterPayload | undefined> {
        // No id of ours has a control character, and PostgreSQL refuses a NUL in text with an error: a code, token or
        // client_id with one is unknown (invalid_grant, invalid_client), never looked up, never a 5xx (SECURITY.md O14).
        if (CONTROL_CHARACTERS.test(id)) return undefined;
        if (this.model === 'Client') return clientMetadata(await repo.client(id), config.jwt.alg);
        const reads = this.model === 'Session' ? sessionReads.getStore() : undefined;
        if (!reads) return repo.find(this.model, id);
        let read = reads.get(id);
        if (!read) {
          read = repo.find(this.model, id);
          reads.set(id, read);
          read.catch(() => reads.delete(id));
        }
        // A copy each time: oidc-provider builds its model from what it gets.
        const payload = await read;
        return payload && structuredClone(payload);
      }

      async findByUid(uid: string): Promise<AdapterPayload | undefined> {
        if (CONTROL_CHARACTERS.test(uid)) return undefined;
        return repo.findByUid(this.model, uid);
      }

      async findByUserCode(): Promise<undefined> {
        return undefined;
      }

      /**
       * oidc-provider checks `consumed` and then consumes (helpers/grant_source.js): check-then-act. The conditional
       * UPDATE makes the spend atomic, so of concurrent exchanges of one code or refresh token exactly one wins
       * (SECURITY.md R3); the others get invalid_grant.
       *
       * A code lost this way was presented twice, which is reuse whatever the timing: oidc-provider revokes the grant
       * when it reads the code already consumed, and so does the loser here, which read it just before. Without this
       * the outcome of concurrent exchanges hung on the interleaving (the winner's tokens kept or ended); now what the
       * winner issued always ends (RFC 6749 §4.1.2, RFC 9700 §4.1.1; SECURITY.md O3). A refresh token keeps the
       * plain refusal: a client's concurrent retry of a refresh must not end its session (SECURITY.md R3).
       */
      async consume(id: string): Promise<void> {
        const won = await repo.consume(this.model, id);
        this.forget(id);
        if (won || (this.model !== 'AuthorizationCode' && this.model !== 'RefreshToken')) return;
        if (this.model === 'AuthorizationCode') {
          const grantId = (await repo.find(this.model, id))?.grantId;
          if (grantId) {
            await repo.revokeByGrantId(grantId);
            await repo.destroy('Grant', grantId);
            await bridge.grantRevoked(grantId);
          }
        }
        throw new errors.InvalidGrant('the code or token was used concurrently');
      }

      async destroy(id: string): Promise<void> {
        await repo.destroy(this.model, id);
        this.forget(id);
      }

      /** Code reuse, refresh-token reuse: the grant's tokens go, and so does its session of ours (the feed). */
      async revokeByGrantId(grantId: string): Promise<void> {
        await repo.revokeByGrantId(grantId);
        // Called once per model; the session is ended once (revoke answers false after that).
        if (this.model === 'AccessToken') {
          // The grant goes first, then its session is read, as in every revocation of ours: a first exchange binding
          // the grant's session meanwhile then either committed before (and is read here) or finds no grant
          // (lockGrant) and issues nothing. oidc-provider destroys the grant beside this call, not before it
          // (helpers/revoke.js, one Promise.all), so without this a session bound between the read and that destroy
          // outlived the reuse (SECURITY.md O3, O17).
          await repo.destroy('Grant', grantId);
          await bridge.grantRevoked(grantId);
        }
      }
    };
  }
}

/**
 * oidc-provider's keystore: the active key first, then the retired keys still published, so an `id_token_hint` signed
 * before a rotation still verifies at end_session and the authorization endpoint (IdToken.validate picks by `kid`).
 * The retired ones are marked verify-only (`key_ops`: keystore.js selectForSign skips them), and come after the active
 * key, which selectForSign would also prefer among equals (a stable sort keeps the order given); a test pins that
 * tokens are signed with the active key.
 */
function opKeystore(active: ActiveKey, retired: ActiveKey[]): Configuration['jwks'] {
  const jwk = (k: ActiveKey) => ({ ...k.privateKey.export({ format: 'jwk' }), kid: k.kid, alg: k.alg, use: 'sig' });
  return { keys: [jwk(active), ...retired.map((k) => ({ ...jwk(k), key_ops: ['verify'] }))] } as Configuration['jwks'];
}

function firstParty(client: { metadata(): Record<string, unknown> }): boolean {
  return client.metadata().first_party === true;
}

/**
 * An API client as oidc-provider's client metadata (RFC 7591 names); undefined unless it may use the code grant and
 * is enabled. Always `application_type: web`, so redirect URIs are compared as exact strings, loopback ports included
 * (client.js #redirectAllowed; RFC 9700 §4.1.3). The "secret" is the stored hash, for compareClientSecret only.
 */
function clientMetadata(row: OAuthClientRow | undefined, alg: string): ClientMetadata | undefined {
  if (!row || Boolean(row.disabled)) return undefined;
  const grantTypes = (row.grant_types ? (JSON.parse(row.grant_types) as string[]) : []).filter(
    (g) => g === 'authorization_code' || g === 'refresh_token',
  );
  if (!grantTypes.includes('authorization_code')) return undefined;
  const method = row.token_endpoint_auth_method ?? 'client_secret_basic';
  return {
    client_id: row.client_id,
    client_name: row.name,
    ...(method === 'none' ? {} : { client_secret: row.secret_hash }),
    redirect_uris: row.redirect_uris ? (JSON.parse(row.redirect_uris) as string[]) : [],
    post_logout_redirect_uris: row.post_logout_redirect_uris ? (JSON.parse(row.post_logout_redirect_uris) as string[]) : [],
    grant_types: grantTypes,
    response_types: ['code'],
    token_endpoint_auth_method: method,
    application_type: 'web',
    id_token_signed_response_alg: alg,
    // auth_time in every ID token (shared/docs/http-api.md; OIDC Core §2 makes it required only with max_age).
    require_auth_time: true,
    first_party: Boolean(row.first_party),
    // Registered by an admin; its logout tokens always carry the sid of the ID tokens (Back-Channel Logout 1.0 §2.4).
    ...(row.backchannel_logout_uri
      ? { backchannel_logout_uri: row.backchannel_logout_uri, backchannel_logout_session_required: true }
      : {}),
  } as ClientMetadata;
}

const page = (title: string, body: string, script = '') => `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title><link rel="stylesheet" href="/assets/pages.css">${script}</head>
<body><main class="card narrow">${body}</main></body></html>`;

/** oidc-provider's logout form (its xsrf field), submitted at once with logout=yes. */
function autoLogoutPage(form: string): string {
  const withLogout = form.replace(
    '</form>',
    '<input type="hidden" name="logout" value="yes"/><noscript><button type="submit">Continue</button></noscript></form>',
  );
  return page('Signing out', `<h1>Signing out…</h1>${withLogout}`, '<script src="/assets/autosubmit.js"></script>');
}

/** Without proof of whose session this is (no or another id_token_hint), the person decides. */
function confirmLogoutPage(form: string, host: string, clientName?: string): string {
  const buttons =
    '<button type="submit" name="logout" value="yes" class="btn">Sign out</button> <button type="submit" class="link">Stay signed in</button></form>';
  return page(
    'Sign out',
    `<h1>Sign out of ${escapeHtml(host)}?</h1>
<p>${clientName ? `${escapeHtml(clientName)} asks` : 'An application asks'} to end your session here. Signing out ends it for every application in this browser.</p>
${form.replace('</form>', buttons)}`,
  );
}

function signedOutPage(): string {
  return page('Signed out', '<h1>You are signed out</h1><p>You can close this window.</p>');
}

function errorPage(code: string, description?: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign-in error</title><link rel="stylesheet" href="/assets/pages.css"></head>
<body><main class="card narrow"><h1>This sign-in cannot go on</h1>
<div class="alert" role="alert"><strong>The application sent an invalid sign-in request.</strong><br>
<small>Error code: ${escapeHtml(code)}${description ? ` (${escapeHtml(description)})` : ''}</small></div>
<p>Go back to the application and try again; if this keeps happening, tell its developers.</p></main></body></html>`;
}

/** Node's request or response under an adapter's: Fastify's keep it as `raw`; Express's are Node's own. */
function nodeObject<T extends object>(o: object): T {
  return ('raw' in o && o.raw && typeof o.raw === 'object' ? o.raw : o) as T;
}

/**
 * The claims the authorization request's `claims` parameter asked for at UserInfo (OIDC Core §5.5), those we have and
 * the grant allows (what the person consented to, for a third-party client; oidc-provider's own UserInfo filters the
 * same way). oidc-provider keeps the parameter on the code and on each refresh token, not on an access token for a
 * resource server (ours), so it is read from the code or refresh token this one is issued for.
 */
function userinfoClaims(entities: KoaContextWithOIDC['oidc']['entities']): string[] {
  const source = entities.AuthorizationCode ?? entities.RefreshToken;
  const asked = (source as { claims?: { userinfo?: unknown } } | undefined)?.claims?.userinfo;
  const grant = entities.Grant;
  if (!grant || !asked || typeof asked !== 'object') return [];
  const known = new Set(Object.values(SCOPE_CLAIMS).flat());
  return grant.getOIDCClaimsFiltered(new Set(Object.keys(asked).filter((claim) => known.has(claim) && claim !== 'sub')));
}
