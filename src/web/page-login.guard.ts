import { Injectable } from '@nestjs/common';
import type { Request } from 'express';
import type { LoginAttempt } from '../auth/login-state.store.js';
import { ProviderLoginGuard } from '../auth/providers/provider-auth.guard.js';
import type { EnabledProvider } from '../auth/providers/provider-registry.js';
import { PageSignInService } from './page-sign-in.service.js';

/** GET /session/login/:provider: a sign-in from the sign-in page, with the pages' own PKCE verifier (PageSignInService). */
@Injectable()
export class PageLoginGuard extends ProviderLoginGuard {
  constructor(private readonly pageSignIn: PageSignInService) {
    super();
  }

  protected attempt(req: Request, provider: EnabledProvider): Promise<LoginAttempt> {
    return this.pageSignIn.start(provider, req, req.res!);
  }
}
