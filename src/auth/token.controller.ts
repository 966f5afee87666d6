import { Body, Controller, Headers, HttpCode, Post, Req, Res } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { Request, Response } from 'express';
import { ApiBadRequestResponse, ApiBearerAuth, ApiBody, ApiConsumes, ApiNoContentResponse, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { DomainError } from '../common/domain-error.js';
import { CONTROL_CHARACTERS } from '../http/validators.js';
import { LogoutRequestDto, TokenRequestDto, TokenResponseDto } from './auth.dto.js';
import { ErrorDto } from '../http/error.dto.js';
import { requestContext } from '../http/request-context.js';
import { AccessTokensService } from '../tokens/access-tokens.service.js';
import { Public } from '../http/public.decorator.js';
import { RateLimit } from '../http/rate-limit.decorator.js';
import { bearerToken } from './guards/jwt-auth.guard.js';
import { TokenEndpointService, type ClientTokenResponse, type TokenResponse } from './token-endpoint.service.js';

const MAX_PARAM = 512;

/** A string parameter within bounds, or undefined; duplicated form keys (arrays) and objects are invalid_request. */
function param(body: Record<string, unknown>, name: string): string | undefined {
  const v = body[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || v.length > MAX_PARAM) throw new DomainError('invalid_request', `${name} must be a single string`);
  return v;
}

function required(body: Record<string, unknown>, name: string): string {
  const v = param(body, name);
  if (!v) throw new DomainError('invalid_request', `${name} is required`);
  return v;
}

@ApiTags('tokens')
@RateLimit('token')
@Public()
@Controller('auth')
export class TokenController {
  constructor(
    private readonly adapterHost: HttpAdapterHost,
    private readonly tokens: TokenEndpointService,
    private readonly accessTokens: AccessTokensService,
  ) {}

  /** Nest's adapter-neutral response API: every answer goes through it (docs/fastify-trial.md, step 1). */
  private get http() {
    return this.adapterHost.httpAdapter;
  }

  /** RFC 6749 §3.2 token endpoint: JSON or form bodies; responses are never cached (§5.1). */
  @Post('token')
  @HttpCode(200)
  @ApiConsumes('application/json', 'application/x-www-form-urlencoded')
  @ApiBody({ type: TokenRequestDto })
  @ApiOkResponse({ type: TokenResponseDto })
  @ApiBadRequestResponse({ type: ErrorDto, description: 'invalid_request, invalid_grant, unsupported_grant_type (RFC 6749 §5.2)' })
  async token(
    @Body() rawBody: unknown,
    @Req() req: Request,
    @Res({ passthrough: true }) res: Response,
  ): Promise<TokenResponse | ClientTokenResponse> {
    this.http.setHeader(res, 'Cache-Control', 'no-store');
    this.http.setHeader(res, 'Pragma', 'no-cache');
    const body = asObject(rawBody);
    const ctx = requestContext(req);
    const grantType = required(body, 'grant_type');
    switch (grantType) {
      case 'authorization_code':
        return this.tokens.exchangeCode(required(body, 'code'), param(body, 'code_verifier'), ctx);
      case 'refresh_token':
        return this.tokens.refresh(required(body, 'refresh_token'), ctx);
      case 'client_credentials':
        return this.tokens.clientCredentials(clientAuthentication(body, req.headers.authorization), param(body, 'scope'), ctx);
      default:
        throw new DomainError('unsupported_grant_type', `grant_type ${grantType.slice(0, 64)} is not supported`);
    }
  }

  /** Ends the session of the refresh token in the body, or of the bearer access token. */
  @Post('logout')
  @HttpCode(204)
  @ApiBearerAuth()
  @ApiBody({ type: LogoutRequestDto, required: false })
  @ApiNoContentResponse({ description: 'the session has ended' })
  async logout(@Body() rawBody: unknown, @Headers('authorization') authorization: unknown, @Req() req: Request): Promise<void> {
    const ctx = requestContext(req);
    const refreshToken = param(asObject(rawBody), 'refresh_token');
    if (refreshToken) return this.tokens.logoutByRefreshToken(refreshToken, ctx);
    const bearer = bearerToken(authorization);
    if (!bearer) throw new DomainError('invalid_request', 'send a refresh_token or a bearer access token');
    const { sub, sid } = this.accessTokens.verify(bearer);
    if (!sid) throw new DomainError('invalid_request', 'an API client token has no session to end');
    return this.tokens.logoutSession({ sub, sid }, ctx);
  }
}

/**
 * RFC 6749 §2.3.1: `client_secret_basic` (Authorization: Basic of the form-encoded id and secret) or
 * `client_secret_post` (form fields); a client must not use both at once (§2.3). Missing or undecodable
 * credentials are invalid_client.
 */
function clientAuthentication(body: Record<string, unknown>, authorization: unknown): { clientId: string; secret: string } {
  const credentials = presentedCredentials(body, authorization);
  // No client id has a control character: such an id is an unknown client, answered as one (and never looked up, as
  // PostgreSQL would refuse a NUL in it with a 500).
  if (CONTROL_CHARACTERS.test(credentials.clientId)) throw new DomainError('invalid_client', 'unknown client or wrong secret');
  return credentials;
}

function presentedCredentials(body: Record<string, unknown>, authorization: unknown): { clientId: string; secret: string } {
  const bodyId = param(body, 'client_id');
  const bodySecret = param(body, 'client_secret');
  const basic = typeof authorization === 'string' ? /^Basic ([A-Za-z0-9+/]+=*)$/i.exec(authorization.trim()) : null;
  if (basic) {
    if (bodySecret !== undefined)
      throw new DomainError('invalid_request', 'use one client authentication method, not Basic and client_secret together');
    const decoded = Buffer.from(basic[1], 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    const clientId = formDecode(decoded.slice(0, Math.max(colon, 0)));
    const secret = formDecode(decoded.slice(colon + 1));
    if (colon <= 0 || !clientId || !secret || clientId.length > MAX_PARAM || secret.length > MAX_PARAM) {
      throw new DomainError('invalid_client', 'malformed Basic client credentials');
    }
    if (bodyId !== undefined && bodyId !== clientId)
      throw new DomainError('invalid_request', 'client_id differs from the authenticated client');
    return { clientId, secret };
  }
  if (!bodyId || !bodySecret)
    throw new DomainError('invalid_client', 'client authentication is required (HTTP Basic or client_id and client_secret)');
  return { clientId: bodyId, secret: bodySecret };
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
