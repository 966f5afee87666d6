import { UsersOnly } from '../http/users-only.decorator.js';
import { Body, Controller, HttpCode, Param, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiProperty, ApiPropertyOptional, ApiTags } from '@nestjs/swagger';
import { IsOptional, IsString, MaxLength } from 'class-validator';
import type { ResolvedConfig } from '../config/app-secret.js';
import { InjectConfig } from '../config/config.module.js';
import type { AccessTokenClaims } from '../tokens/access-tokens.service.js';
import { CurrentAuth } from '../http/current-auth.decorator.js';
import { LinkTicketsService } from '../auth/link-tickets.service.js';
import { ProviderRegistry } from '../auth/providers/provider-registry.js';
import { MAX_RETURN_URL_LENGTH, resolveReturnTo } from '../http/return-url.js';

export class LinkRequestDto {
  @ApiPropertyOptional({
    description: 'Where the browser returns after linking (within ALLOWED_RETURN_URLS).',
    maxLength: MAX_RETURN_URL_LENGTH,
  })
  @IsOptional()
  @IsString()
  @MaxLength(MAX_RETURN_URL_LENGTH)
  returnTo?: string;
}

export class LinkUrlDto {
  @ApiProperty({ description: 'Single-use URL (5 minutes) for the browser: it signs in at the provider and links that identity.' })
  url: string;
}

@ApiTags('me')
@ApiBearerAuth()
@UsersOnly()
@Controller('me/identities')
export class LinkController {
  constructor(
    private readonly registry: ProviderRegistry,
    private readonly tickets: LinkTicketsService,
    @InjectConfig() private readonly config: ResolvedConfig,
  ) {}

  /** Starts linking another provider identity to the signed-in user. */
  @Post(':provider/link')
  @HttpCode(200)
  @ApiOkResponse({ type: LinkUrlDto })
  async link(
    @CurrentAuth() auth: AccessTokenClaims,
    @Param('provider') provider: string,
    @Body() body: LinkRequestDto,
  ): Promise<LinkUrlDto> {
    this.registry.get(provider);
    const fallback = `${this.config.publicUrl}/`;
    const returnTo = resolveReturnTo(body.returnTo, this.config.allowedReturnUrls, this.config.publicUrl, fallback);
    return { url: await this.tickets.create(auth.sub, provider, returnTo) };
  }
}
