import { Controller, Get, Param, Query, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import { ApiFoundResponse, ApiNotFoundResponse, ApiOkResponse, ApiOperation, ApiQuery, ApiTags } from '@nestjs/swagger';
import { DomainError } from '../common/domain-error.js';
import { ProviderDto } from './auth.dto.js';
import { ErrorDto } from '../http/error.dto.js';
import { InjectConfig } from '../config/config.module.js';
import type { ResolvedConfig } from '../config/app-secret.js';
import { S256_CHALLENGE } from './authorization-codes.service.js';
import { Public } from '../http/public.decorator.js';
import { RateLimit } from '../http/rate-limit.decorator.js';
import { ProviderRegistry } from './providers/provider-registry.js';
import { resolveReturnTo } from '../http/return-url.js';
import { SignInService } from './sign-in.service.js';
import { LinkTicketsService } from './link-tickets.service.js';

@ApiTags('sign-in')
@RateLimit('signIn')
@Public()
@Controller('auth')
export class AuthController {
  constructor(
    private readonly registry: ProviderRegistry,
    private readonly signIn: SignInService,
    private readonly linkTickets: LinkTicketsService,
    @InjectConfig() private readonly config: ResolvedConfig,
  ) {}

  @Get('providers')
  @ApiOkResponse({ type: [ProviderDto] })
  providers() {
    return this.registry.list().map(({ id, name, type }) => ({ id, name, type }));
  }

  @Get(':provider/login')
  @ApiOperation({ summary: 'Starts a browser sign-in: 302 to the provider' })
  @ApiQuery({ name: 'returnTo', required: false })
  @ApiQuery({ name: 'code_challenge', required: false })
  @ApiQuery({ name: 'code_challenge_method', required: false, enum: ['S256'] })
  @ApiQuery({ name: 'link_ticket', required: false, description: 'set in URLs from POST /me/identities/:provider/link' })
  @ApiFoundResponse({ description: 'to the provider' })
  @ApiNotFoundResponse({ type: ErrorDto, description: 'unknown_provider' })
  async login(
    @Param('provider') id: string,
    @Query('returnTo') rawReturnTo: unknown,
    @Query('code_challenge') codeChallenge: unknown,
    @Query('code_challenge_method') method: unknown,
    @Query('link_ticket') linkTicket: unknown,
    @Req() req: Request,
    @Res() res: Response,
  ): Promise<void> {
    const provider = this.registry.get(id);
    // A link URL (POST /me/identities/:provider/link) carries its own user and returnTo.
    const link =
      linkTicket === undefined
        ? undefined
        : await this.linkTickets.find(linkTicket, provider.id).catch((e: unknown) => {
            // Not only a bad ticket: the database may be down, which is an error redirect like any other here.
            throw this.signIn.toSignInError(e).redirectingTo(this.signIn.fallbackUrl);
          });
    const returnTo =
      link?.returnTo ?? resolveReturnTo(rawReturnTo, this.config.allowedReturnUrls, this.config.publicUrl, this.signIn.fallbackUrl);
    if (codeChallenge !== undefined || method !== undefined) {
      // Only S256: "plain" would hand the secret over in the front channel (RFC 7636 §4.2, RFC 9700 §2.1.1).
      if (method !== 'S256' || typeof codeChallenge !== 'string' || !S256_CHALLENGE.test(codeChallenge)) {
        throw new DomainError('invalid_request', 'code_challenge must be an S256 challenge with code_challenge_method=S256').redirectingTo(
          returnTo,
        );
      }
    }
    const url = await this.signIn.start(provider, req, {
      returnTo,
      appCodeChallenge: codeChallenge as string | undefined,
      link,
    });
    res.setHeader('Cache-Control', 'no-store');
    res.redirect(302, url);
  }

  @Get(':provider/callback')
  @ApiOperation({ summary: 'The provider’s redirect back: 302 to returnTo with ?code= or ?error=' })
  @ApiFoundResponse({ description: 'to returnTo' })
  async callback(@Param('provider') id: string, @Req() req: Request, @Res() res: Response): Promise<void> {
    // The callback URL carries the provider's code: never leak it to the next page (SECURITY.md F8).
    res.setHeader('Referrer-Policy', 'no-referrer');
    res.setHeader('Cache-Control', 'no-store');
    const provider = this.registry.get(id);
    res.redirect(302, await this.signIn.finish(provider, req));
  }
}
