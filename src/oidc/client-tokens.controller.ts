import { Controller, HttpCode, Post, Req, Res } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { ApiConsumes, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { DomainError } from '../common/domain-error.js';
import { Public } from '../http/public.decorator.js';
import { RateLimit } from '../http/rate-limit.decorator.js';
import { isFormBody } from '../common/media-type.js';
import { requestContext } from '../http/request-context.js';
import { ClientTokensService, type PresentedClient, type TokenTypeHint } from './client-tokens.service.js';
import { OP_MOUNT } from './oidc-provider.service.js';

/** Where the two endpoints answer: oidc-provider's own paths for them (its features stay off; these are ours). */
export const REVOCATION_PATH = '/token/revocation';
export const INTROSPECTION_PATH = '/token/introspection';

const MAX_PARAM = 512;

/**
 * RFC 7009 token revocation and RFC 7662 token introspection for the OpenID Provider's clients: ours rather than
 * oidc-provider's, whose actions refuse every JWT as unsupported_token_type (shared/reject_structured_tokens.js) and
 * so could see neither our access tokens nor their sessions (docs/openid-provider.md). Form-encoded POST only
 * (RFC 7009 §2.1, RFC 7662 §2.1), client-authenticated like the token endpoint, under its rate limit.
 */
@ApiTags('OpenID Provider')
@RateLimit('token')
@Public()
@Controller(OP_MOUNT.slice(1))
export class ClientTokensController {
  constructor(
    private readonly adapterHost: HttpAdapterHost,
    private readonly tokens: ClientTokensService,
  ) {}

  /** Nest's adapter-neutral response API: every answer goes through it (docs/fastify-trial.md, step 1). */
  private get http() {
    return this.adapterHost.httpAdapter;
  }

  @Post(REVOCATION_PATH.slice(1))
  @HttpCode(200)
  @ApiConsumes('application/x-www-form-urlencoded')
  @ApiOperation({ summary: 'RFC 7009: revoke an access or refresh token of the authenticated client' })
  @ApiOkResponse({ description: 'revoked, or nothing to revoke (RFC 7009 §2.2: the same answer)' })
  async revoke(@Req() req: Request, @Res() res: Response): Promise<void> {
    const { client, token, hint } = await this.read(req);
    await this.tokens.revoke(client, token, hint, requestContext(req));
    this.http.setHeader(res, 'Cache-Control', 'no-store');
    this.http.status(res, 200);
    this.http.end(res);
  }

  @Post(INTROSPECTION_PATH.slice(1))
  @HttpCode(200)
  @ApiConsumes('application/x-www-form-urlencoded')
  @ApiOperation({ summary: 'RFC 7662: whether a token of the authenticated client is active, and its claims' })
  @ApiOkResponse({ description: '{ active, scope, client_id, sub, exp, iat, sid, token_type, aud, iss } or { active: false }' })
  async introspect(@Req() req: Request, @Res() res: Response): Promise<void> {
    // RFC 7662 §2.1 and §4: the caller MUST be authenticated, against token scanning. A public client's client_id is in
    // every authorization URL, so it proves nothing: whoever holds one of its tokens would learn its sub, sid and scope
    // (Keycloak refuses public clients here too). A public client may still revoke its own tokens (RFC 7009 §5).
    if (presentedClient(asObject(req.body), req.headers.authorization).method === 'none') {
      throw new DomainError('invalid_client', 'a public client cannot introspect tokens (RFC 7662 §2.1)');
    }
    const { client, token, hint } = await this.read(req);
    const answer = await this.tokens.introspect(client, token, hint);
    // RFC 7662 §4: the answer is about a live credential; never cached.
    this.http.setHeader(res, 'Cache-Control', 'no-store');
    this.http.setHeader(res, 'Pragma', 'no-cache');
    this.http.reply(res, answer, 200);
  }

  private async read(req: Request) {
    if (!isFormBody(req)) {
      throw new DomainError('invalid_request', 'send the parameters form-encoded (application/x-www-form-urlencoded)');
    }
    const body = asObject(req.body);
    // The client first (RFC 7009 §2.1: it is authenticated before the token is looked at), then the token.
    const client = await this.tokens.authenticate(presentedClient(body, req.headers.authorization), requestContext(req));
    const token = param(body, 'token');
    if (!token) throw new DomainError('invalid_request', 'token is required');
    const rawHint = param(body, 'token_type_hint');
    // A hint we do not know is ignored, not refused: it only says where to look first.
    const hint: TokenTypeHint = rawHint === 'access_token' || rawHint === 'refresh_token' ? rawHint : undefined;
    return { client, token, hint };
  }
}

/**
 * RFC 6749 §2.3.1: `client_secret_basic` (Authorization: Basic of the form-encoded id and secret) or
 * `client_secret_post` (form fields); a public client sends only `client_id` (RFC 7009 §2.1, RFC 6749 §2.1). One
 * method per request (§2.3); anything missing or undecodable is invalid_client.
 */
export function presentedClient(body: Record<string, unknown>, authorization: unknown): PresentedClient {
  const bodyId = param(body, 'client_id');
  const bodySecret = param(body, 'client_secret');
  if (authorization !== undefined) {
    const basic = typeof authorization === 'string' ? /^Basic ([A-Za-z0-9+/]+=*)$/i.exec(authorization.trim()) : null;
    if (!basic) throw new DomainError('invalid_client', 'client authentication must be HTTP Basic');
    if (bodySecret !== undefined) {
      throw new DomainError('invalid_request', 'use one client authentication method, not Basic and client_secret together');
    }
    const decoded = Buffer.from(basic[1], 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    const clientId = formDecode(decoded.slice(0, Math.max(colon, 0)));
    const secret = formDecode(decoded.slice(colon + 1));
    if (colon <= 0 || !clientId || !secret || clientId.length > MAX_PARAM || secret.length > MAX_PARAM) {
      throw new DomainError('invalid_client', 'malformed Basic client credentials');
    }
    if (bodyId !== undefined && bodyId !== clientId)
      throw new DomainError('invalid_request', 'client_id differs from the authenticated client');
    return { clientId, secret, method: 'client_secret_basic' };
  }
  if (!bodyId) throw new DomainError('invalid_client', 'client authentication is required (HTTP Basic, client_secret_post, or client_id)');
  return bodySecret === undefined
    ? { clientId: bodyId, method: 'none' }
    : { clientId: bodyId, secret: bodySecret, method: 'client_secret_post' };
}

/** A string parameter within bounds, or undefined; a repeated parameter (an array) or an object is invalid_request. */
function param(body: Record<string, unknown>, name: string): string | undefined {
  const v = body[name];
  if (v === undefined) return undefined;
  const max = name === 'token' ? 8192 : MAX_PARAM;
  if (typeof v !== 'string' || v.length > max) throw new DomainError('invalid_request', `${name} must be a single string`);
  return v;
}

/** application/x-www-form-urlencoded decoding of one Basic credential (RFC 6749 §2.3.1, Appendix B). */
function formDecode(value: string): string | undefined {
  try {
    return decodeURIComponent(value.replace(/\+/g, ' '));
  } catch {
    return undefined;
  }
}

function asObject(body: unknown): Record<string, unknown> {
  return body !== null && typeof body === 'object' && !Array.isArray(body) ? (body as Record<string, unknown>) : {};
}
