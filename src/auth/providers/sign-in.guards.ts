import { Injectable, type ExecutionContext } from '@nestjs/common';
import type { Request } from 'express';
import { DomainError } from '../../common/domain-error.js';
import type { ResolvedConfig } from '../../config/app-secret.js';
import { InjectConfig } from '../../config/config.module.js';
import { S256_CHALLENGE } from '../authorization-codes.service.js';
import { LinkTicketsService } from '../link-tickets.service.js';
import type { LoginAttempt } from '../login-state.store.js';
import { resolveReturnTo } from '../../http/return-url.js';
import { SignInService } from '../sign-in.service.js';
import { enabledProvider } from './enabled-provider.guard.js';
import { ProviderAuthGuard, ProviderLoginGuard } from './provider-auth.guard.js';
import type { EnabledProvider } from './provider-registry.js';
import type { ProviderProfile } from '../../accounts/provider-profile.js';

/**
 * GET /auth/:provider/login: the attempt from the query (returnTo, the app's PKCE challenge, a link URL's ticket),
 * then the provider's strategy redirects to it.
 */
@Injectable()
export class SignInLoginGuard extends ProviderLoginGuard {
  constructor(
    private readonly signIn: SignInService,
    private readonly linkTickets: LinkTicketsService,
    @InjectConfig() private readonly config: ResolvedConfig,
  ) {
    super();
  }

  protected async attempt(req: Request, provider: EnabledProvider): Promise<LoginAttempt> {
    const query = req.query as Record<string, unknown>;
    const { code_challenge: codeChallenge, code_challenge_method: method, link_ticket: linkTicket } = query;
    // A link URL (POST /me/identities/:provider/link) carries its own user and returnTo. The ticket is only looked at
    // here; SignInService.start spends it once the browser is its requester's.
    const link =
      linkTicket === undefined
        ? undefined
        : await this.linkTickets.find(linkTicket, provider.id).catch((e: unknown) => {
            // Not only a bad ticket: the database may be down, which is an error redirect like any other here.
            throw this.signIn.toSignInError(e).redirectingTo(this.signIn.fallbackUrl);
          });
    const returnTo =
      link?.returnTo ?? resolveReturnTo(query.returnTo, this.config.allowedReturnUrls, this.config.publicUrl, this.signIn.fallbackUrl);
    if (codeChallenge !== undefined || method !== undefined) {
      // Only S256: "plain" would hand the secret over in the front channel (RFC 7636 §4.2, RFC 9700 §2.1.1).
      if (method !== 'S256' || typeof codeChallenge !== 'string' || !S256_CHALLENGE.test(codeChallenge)) {
        throw new DomainError('invalid_request', 'code_challenge must be an S256 challenge with code_challenge_method=S256').redirectingTo(
          returnTo,
        );
      }
    }
    return this.signIn.start(provider, req, { returnTo, appCodeChallenge: codeChallenge as string | undefined, link });
  }
}

/**
 * GET /auth/:provider/callback: checks the response before the strategy reads it, then its outcome becomes the
 * verified profile for the handler or an error redirect (SignInService.verifiedProfile).
 */
@Injectable()
export class SignInCallbackGuard extends ProviderAuthGuard {
  constructor(private readonly signIn: SignInService) {
    super();
  }

  getAuthenticateOptions(context: ExecutionContext): object {
    const req = context.switchToHttp().getRequest<Request>();
    this.signIn.checkCallback(enabledProvider(req), req);
    // No `state` option: only a login seals a new attempt (see NotAProviderResponse).
    return {};
  }

  handleRequest(err: unknown, user: unknown, info: unknown, context: ExecutionContext): Promise<ProviderProfile> {
    const req = context.switchToHttp().getRequest<Request>();
    return this.signIn.verifiedProfile(enabledProvider(req), req, err, user, info);
  }
}
