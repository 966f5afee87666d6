import { Injectable } from '@nestjs/common';
import type { Request, Response } from 'express';
import { deriveKey, pkceChallenge, randomToken, seal, unseal } from '../common/crypto.js';
import { DomainError } from '../common/domain-error.js';
import type { ResolvedConfig } from '../config/app-secret.js';
import { InjectConfig } from '../config/config.module.js';
import { Cookies } from '../http/cookies.js';
import type { LoginAttempt } from '../auth/login-state.store.js';
import { ProviderLoginGuard } from '../auth/providers/provider-auth.guard.js';
import type { EnabledProvider } from '../auth/providers/provider-registry.js';
import { SignInService } from '../auth/sign-in.service.js';
import { INTERACTION_PATH, OidcProviderService } from './oidc-provider.service.js';

const VERIFIER_COOKIE = 'sls_op_pkce';
/** Interaction ids are oidc-provider's nanoids. */
export const INTERACTION_UID = /^[A-Za-z0-9_-]{1,64}$/;

export interface PendingSignIn {
  uid: string;
  verifier: string;
}

/**
 * The PKCE verifier of an interaction's sign-in, sealed in this browser: the code that comes back is spent only here,
 * in the browser that started it (RFC 7636; login CSRF, RFC 9700 §4.4.1.8).
 */
@Injectable()
export class PendingSignInCookie {
  private readonly key: Buffer;
  private readonly cookies: Cookies;
  private readonly name: string;

  constructor(@InjectConfig() private readonly config: ResolvedConfig) {
    this.key = deriveKey(config.appSecret, 'openid-provider-pkce-cookie');
    this.cookies = new Cookies(config);
    this.name = this.cookies.name(VERIFIER_COOKIE);
  }

  set(res: Response, pending: PendingSignIn): void {
    this.cookies.set(res, this.name, seal(this.key, JSON.stringify(pending), this.name), this.config.loginStateTtl * 1000);
  }

  take(req: Request, res: Response): PendingSignIn | undefined {
    const raw = (req.cookies as Record<string, unknown> | undefined)?.[this.name];
    this.cookies.clear(res, this.name);
    const opened = typeof raw === 'string' ? unseal(this.key, raw, this.name) : undefined;
    return opened === undefined ? undefined : (JSON.parse(opened) as PendingSignIn);
  }
}

/**
 * GET /oidc/interaction/:uid/login/:provider: the person chose a provider on the interaction's sign-in page. The
 * provider's strategy runs as on our own pages (ProviderLoginGuard), coming back to the interaction's callback with
 * a code only this browser's verifier spends. An interaction that is gone goes back to its page, which says so.
 */
@Injectable()
export class InteractionLoginGuard extends ProviderLoginGuard {
  constructor(
    private readonly op: OidcProviderService,
    private readonly pending: PendingSignInCookie,
    private readonly signIn: SignInService,
    @InjectConfig() private readonly config: ResolvedConfig,
  ) {
    super();
  }

  protected async attempt(req: Request, provider: EnabledProvider): Promise<LoginAttempt> {
    const res = req.res!;
    const uid = req.params.uid as string;
    if (!INTERACTION_UID.test(uid)) throw new DomainError('invalid_request', 'no such sign-in');
    const details = await this.op.interactionDetails(req, res).catch(() => undefined);
    // Absolute: the filter adds the error to it as a URL (withParams); a path alone was a 500 (SECURITY.md O15).
    if (details?.uid !== uid)
      throw new DomainError('invalid_request', 'this sign-in has expired').redirectingTo(
        `${this.config.publicUrl}${INTERACTION_PATH}/${uid}`,
      );
    const pending: PendingSignIn = { uid, verifier: randomToken(32) };
    this.pending.set(res, pending);
    return this.signIn.start(provider, req, {
      returnTo: `${this.config.publicUrl}${INTERACTION_PATH}/${uid}/callback`,
      appCodeChallenge: pkceChallenge(pending.verifier),
    });
  }
}
