import { Controller, HttpCode, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { Roles } from '../auth/decorators/roles.decorator.js';
import { RateLimit } from '../rate-limit/rate-limit.decorator.js';
import { SigningKeysService } from './signing-keys.service.js';

@ApiTags('admin')
@ApiBearerAuth()
@Controller('admin/keys')
@Roles('admin')
@RateLimit('admin')
export class KeysAdminController {
  constructor(private readonly keys: SigningKeysService) {}

  /** Rotates the signing key now; tokens signed by the old one keep verifying until they expire. */
  @Post('rotate')
  @HttpCode(200)
  async rotate() {
    await this.keys.rotate();
    return { kid: this.keys.signingKey().kid, keys: this.keys.jwks().keys.map((k) => k.kid) };
  }
}
