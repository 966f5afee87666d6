import { Controller, Get } from '@nestjs/common';
import { CurrentAuth } from '../auth/decorators/current-auth.decorator.js';
import { DomainError } from '../common/domain-error.js';
import type { AccessTokenClaims } from '../tokens/access-tokens.service.js';
import { AccountsService } from './accounts.service.js';

@Controller('me')
export class MeController {
  constructor(private readonly accounts: AccountsService) {}

  @Get()
  async me(@CurrentAuth() auth: AccessTokenClaims) {
    const user = await this.accounts.findUser(auth.sub);
    if (!user || user.disabled) throw new DomainError('invalid_token', 'the account is disabled or no longer exists');
    const identities = await this.accounts.identitiesOf(user.id);
    return {
      id: user.id,
      email: user.email,
      emailVerified: user.emailVerified,
      name: user.name,
      picture: user.picture,
      roles: user.roles,
      identities: identities.map((i) => ({
        id: i.id,
        provider: i.provider,
        subject: i.subject,
        email: i.email,
        linkedAt: new Date(i.linkedAt).toISOString(),
      })),
    };
  }

  /** The verified claims of the presented token, from the token alone: what an app sees, and the guard's own cost. */
  @Get('claims')
  claims(@CurrentAuth() auth: AccessTokenClaims) {
    return auth;
  }
}
