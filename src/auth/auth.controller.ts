import { Controller, Get, Req, Res, UseGuards } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { Request, Response } from 'express';
import { ApiFoundResponse, ApiNotFoundResponse, ApiOkResponse, ApiOperation, ApiParam, ApiQuery, ApiTags } from '@nestjs/swagger';
import type { ProviderProfile } from '../accounts/provider-profile.js';
import { ErrorDto } from '../http/error.dto.js';
import { Public } from '../http/public.decorator.js';
import { RateLimit } from '../http/rate-limit.decorator.js';
import { ProviderDto } from './auth.dto.js';
import { EnabledProviderGuard, SignInProvider } from './providers/enabled-provider.guard.js';
import { VerifiedProfile } from './providers/provider-auth.guard.js';
import { ProviderRegistry, type EnabledProvider } from './providers/provider-registry.js';
import { SignInCallbackGuard, SignInLoginGuard } from './providers/sign-in.guards.js';
import { SignInService } from './sign-in.service.js';

@ApiTags('sign-in')
@RateLimit('signIn')
@Public()
@Controller('auth')
export class AuthController {
  constructor(
    private readonly adapterHost: HttpAdapterHost,
    private readonly registry: ProviderRegistry,
    private readonly signIn: SignInService,
  ) {}

  /** Nest's adapter-neutral response API: every answer goes through it (docs/fastify-trial.md, step 1). */
  private get http() {
    return this.adapterHost.httpAdapter;
  }

  @Get('providers')
  @ApiOkResponse({ type: [ProviderDto] })
  providers() {
    return this.registry.list().map(({ id, name, type }) => ({ id, name, type }));
  }

  @Get(':provider/login')
  @UseGuards(EnabledProviderGuard, SignInLoginGuard)
  @ApiOperation({ summary: 'Starts a browser sign-in: 302 to the provider' })
  @ApiQuery({ name: 'returnTo', required: false })
  @ApiQuery({ name: 'code_challenge', required: false })
  @ApiQuery({ name: 'code_challenge_method', required: false, enum: ['S256'] })
  @ApiQuery({ name: 'link_ticket', required: false, description: 'set in URLs from POST /me/identities/:provider/link' })
  @ApiFoundResponse({ description: 'to the provider' })
  @ApiNotFoundResponse({ type: ErrorDto, description: 'unknown_provider' })
  @ApiParam({ name: 'provider', type: String })
  login(): void {
    // Not reached: SignInLoginGuard's strategy answers with the redirect to the provider.
  }

  @Get(':provider/callback')
  @UseGuards(EnabledProviderGuard, SignInCallbackGuard)
  @ApiParam({ name: 'provider', type: String })
  @ApiOperation({ summary: 'The provider’s redirect back: 302 to returnTo with ?code= or ?error=' })
  @ApiFoundResponse({ description: 'to returnTo' })
  async callback(
    @SignInProvider() provider: EnabledProvider,
    @VerifiedProfile() profile: ProviderProfile,
    @Req() req: Request,
    @Res() res: Response,
  ): Promise<void> {
    // The callback URL carries the provider's code: never leak it to the next page (SECURITY.md F8).
    this.http.setHeader(res, 'Referrer-Policy', 'no-referrer');
    this.http.setHeader(res, 'Cache-Control', 'no-store');
    this.http.redirect(res, 302, await this.signIn.finish(provider, req, profile));
  }
}
