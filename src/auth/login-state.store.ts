import { Injectable } from '@nestjs/common';
import type { Request, Response } from 'express';
import { Clock } from '../common/clock.js';
import { deriveKey, randomToken, safeEqual, seal, sha256, unseal } from '../common/crypto.js';
import { DomainError } from '../common/domain-error.js';
import { InjectConfig } from '../config/config.module.js';
import type { ResolvedConfig } from '../config/app-secret.js';
import { Cookies } from '../http/cookies.js';
import { isDatabaseUnavailable, isUniqueViolation } from '../database/errors.js';
import { SignInRepository } from './sign-in.repository.js';

/** One sign-in attempt, from the login redirect to the callback. Lives only in a sealed cookie in the browser. */
export interface LoginAttempt {
  provider: string;
  returnTo: string;
  /** OIDC Core §3.1.2.1 nonce, checked against the verified ID token. */
  nonce: string;
  /** PKCE verifier towards the provider (RFC 7636). */
  pkceVerifier?: string;
  /** The app's own PKCE challenge for the one-time code we hand back. */
  appCodeChallenge?: string;
  /** Set when a signed-in user is linking another identity. */
  linkUserId?: string;
  expiresAt: number;
}

interface SealedAttempt extends LoginAttempt {
  state: string;
  createdAt: number;
}

const COOKIE_PREFIX = 'login_';
/** Parallel sign-ins (several tabs) each get a cookie; older ones beyond this are dropped. */
const MAX_PENDING = 4;

/**
 * Login state in a sealed (AES-256-GCM), HttpOnly, SameSite=Lax cookie per attempt, named after its `state`: no
 * server memory and no express-session, so the callback works on any instance and after a restart. The cookie binds
 * `state` to this browser (RFC 9700 §4.7.1, SECURITY.md F1); the used_login_states row makes it single use.
 */
@Injectable()
export class LoginStateStore {
  private readonly key: Buffer;
  private readonly cookies: Cookies;
  private readonly prefix: string;

  constructor(
    private readonly repository: SignInRepository,
    @InjectConfig() config: ResolvedConfig,
    private readonly clock: Clock,
  ) {
    this.key = deriveKey(config.appSecret, 'login-state-cookie');
    this.cookies = new Cookies(config);
    // RFC 6265bis §4.1.3.2: a __Host- cookie is Secure, host-only and Path=/, so no sibling subdomain can plant one.
    this.prefix = this.cookies.name(COOKIE_PREFIX);
  }

  /** Seals the attempt into a new cookie and returns its `state` value. */
  save(req: Request, res: Response, attempt: LoginAttempt): string {
    const state = randomToken(32);
    const now = this.clock.now();
    this.dropOldAttempts(req, res, now);
    const name = this.cookieName(state);
    const sealed: SealedAttempt = { ...attempt, state, createdAt: now };
    this.cookies.set(res, name, seal(this.key, JSON.stringify(sealed), name), Math.max(0, attempt.expiresAt - now));
    return state;
  }

  /**
   * Opens the attempt for `state` (any failure is invalid_state, saying which), clears its cookie, and records the
   * state as used. The attempt must belong to the provider whose callback received it (mix-up defence, F5).
   */
  async consume(req: Request, res: Response, provider: string, state: unknown): Promise<LoginAttempt> {
    if (typeof state !== 'string' || !/^[A-Za-z0-9_-]{43}$/.test(state)) {
      throw new DomainError('invalid_state', 'the sign-in response has no valid state');
    }
    const name = this.cookieName(state);
    const raw = (req.cookies as Record<string, string> | undefined)?.[name];
    const attempt = raw === undefined ? undefined : this.open(name, raw);
    if (!attempt || !safeEqual(attempt.state, state)) {
      throw new DomainError('invalid_state', 'this sign-in was not started in this browser, or was already completed');
    }
    this.cookies.clear(res, name);
    const { state: _state, createdAt: _createdAt, ...rest } = attempt;
    if (attempt.expiresAt <= this.clock.now()) {
      throw new DomainError('invalid_state', 'the sign-in took too long; please start again').redirectingTo(attempt.returnTo);
    }
    if (attempt.provider !== provider) {
      throw new DomainError('invalid_state', 'the sign-in response came back to another provider').redirectingTo(attempt.returnTo);
    }
    try {
      await this.repository.insertUsedLoginState({ stateHash: sha256(state), expiresAt: attempt.expiresAt });
    } catch (e) {
      if (isUniqueViolation(e)) {
        throw new DomainError('invalid_state', 'this sign-in response was already used').redirectingTo(attempt.returnTo);
      }
      // The attempt is authentic (sealed, this browser's, this provider's), so a database that cannot take the write
      // ends the sign-in at its returnTo like any later failure, not at the service's own page (issue 19).
      if (isDatabaseUnavailable(e)) {
        throw new DomainError('temporarily_unavailable', 'sign-in is unavailable for a moment; please try again', {
          cause: e,
        }).redirectingTo(attempt.returnTo);
      }
      throw e;
    }
    return rest;
  }

  /** Rows are only needed until their attempt would have expired anyway. */
  async purgeExpired(): Promise<void> {
    const now = this.clock.now();
    await this.repository.deleteUsedLoginStatesExpiredBefore(now);
  }

  private cookieName(state: string): string {
    return `${this.prefix}${state.slice(0, 12)}`;
  }

  private open(name: string, raw: string): SealedAttempt | undefined {
    const json = unseal(this.key, raw, name);
    if (json === undefined) return undefined;
    try {
      return JSON.parse(json) as SealedAttempt;
    } catch {
      return undefined;
    }
  }

  private dropOldAttempts(req: Request, res: Response, now: number): void {
    const cookies = (req.cookies ?? {}) as Record<string, string>;
    const pending = Object.entries(cookies)
      .filter(([name]) => name.startsWith(this.prefix))
      .map(([name, raw]) => ({ name, attempt: this.open(name, raw) }))
      .sort((a, b) => (b.attempt?.createdAt ?? 0) - (a.attempt?.createdAt ?? 0));
    pending.forEach(({ name, attempt }, i) => {
      if (i >= MAX_PENDING - 1 || !attempt || attempt.expiresAt <= now) {
        this.cookies.clear(res, name);
      }
    });
  }
}
