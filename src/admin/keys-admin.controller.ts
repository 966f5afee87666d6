import { Controller, HttpCode, Post } from '@nestjs/common';
import { AdminApi } from '../http/admin-api.decorator.js';
import { SigningKeysService } from '../tokens/signing-keys.service.js';

@AdminApi()
@Controller('admin/keys')
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
