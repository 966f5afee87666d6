import { Body, Controller, Headers, HttpCode, Post, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import { ApiBadRequestResponse, ApiBearerAuth, ApiBody, ApiConsumes, ApiNoContentResponse, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { DomainError } from '../common/domain-error.js';
import { ErrorDto, LogoutRequestDto, TokenRequestDto, TokenResponseDto } from './auth.dto.js';
import { requestContext } from '../common/request-context.js';
import { AccessTokensService } from '../tokens/access-tokens.service.js';
import { Public } from './decorators/public.decorator.js';
import { RateLimit } from '../rate-limit/rate-limit.decorator.js';
import { bearerToken } from './guards/jwt-auth.guard.js';
import { TokenEndpointService, type TokenResponse } from './token-endpoint.service.js';

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
    private readonly tokens: TokenEndpointService,
    private readonly accessTokens: AccessTokensService,
  ) {}

  /** RFC 6749 §3.2 token endpoint: JSON or form bodies; responses are never cached (§5.1). */
  @Post('token')
  @HttpCode(200)
  @ApiConsumes('application/json', 'application/x-www-form-urlencoded')
  @ApiBody({ type: TokenRequestDto })
  @ApiOkResponse({ type: TokenResponseDto })
  @ApiBadRequestResponse({ type: ErrorDto, description: 'invalid_request, invalid_grant, unsupported_grant_type (RFC 6749 §5.2)' })
  async token(@Body() rawBody: unknown, @Req() req: Request, @Res({ passthrough: true }) res: Response): Promise<TokenResponse> {
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('Pragma', 'no-cache');
    const body = asObject(rawBody);
    const ctx = requestContext(req);
    const grantType = required(body, 'grant_type');
    switch (grantType) {
      case 'authorization_code':
        return this.tokens.exchangeCode(required(body, 'code'), param(body, 'code_verifier'), ctx);
      case 'refresh_token':
        return this.tokens.refresh(required(body, 'refresh_token'), ctx);
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
  async logout(@Body() rawBody: unknown, @Headers('authorization') authorization: unknown): Promise<void> {
    const refreshToken = param(asObject(rawBody), 'refresh_token');
    if (refreshToken) return this.tokens.logoutByRefreshToken(refreshToken);
    const bearer = bearerToken(authorization);
    if (!bearer) throw new DomainError('invalid_request', 'send a refresh_token or a bearer access token');
    return this.tokens.logoutSession(this.accessTokens.verify(bearer).sid);
  }
}

function asObject(body: unknown): Record<string, unknown> {
  return body !== null && typeof body === 'object' && !Array.isArray(body) ? (body as Record<string, unknown>) : {};
}
