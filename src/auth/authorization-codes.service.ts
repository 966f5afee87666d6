import { Injectable } from '@nestjs/common';
import { SessionsService, type IssuedSession } from '../tokens/sessions.service.js';
import type { RequestContext } from '../http/request-context.js';
import { Clock } from '../common/clock.js';
import { pkceChallenge, randomToken, safeEqual, sha256 } from '../common/crypto.js';
import { DomainError } from '../common/domain-error.js';
import { InjectConfig } from '../config/config.module.js';
import type { ResolvedConfig } from '../config/app-secret.js';
import { Database } from '../database/db.service.js';
import type { AuthorizationCode } from './authorization-code.entity.js';
import { SignInRepository } from './sign-in.repository.js';

/** RFC 7636 §4.1: 43–128 characters of the unreserved set. */
const VERIFIER = /^[A-Za-z0-9._~-]{43,128}$/;
/** An S256 challenge is a base64url SHA-256: exactly 43 characters. */
export const S256_CHALLENGE = /^[A-Za-z0-9_-]{43}$/;

const badCode = () => new DomainError('invalid_grant', 'the code is invalid, expired or already used');

/** Why `verifier` does not prove possession of the code's `challenge` (RFC 7636 §4.6), or undefined when it does. */
function pkceRefusal(challenge: string | null, verifier: string | undefined): string | undefined {
  if (challenge) {
    if (typeof verifier !== 'string' || !VERIFIER.test(verifier)) return 'code_verifier is missing or malformed';
    return safeEqual(pkceChallenge(verifier), challenge) ? undefined : 'code_verifier does not match the code_challenge';
  }
  // A verifier without a challenge is refused too: that is a downgrade (RFC 9700 §2.1.1).
  return verifier === undefined ? undefined : 'code_verifier sent, but the sign-in started without a code_challenge';
}

/** The one-time code the sign-in callback hands to the app: single use, ≤ 60 s, hashed at rest, PKCE-bound. */
@Injectable()
export class AuthorizationCodesService {
  constructor(
    private readonly database: Database,
    private readonly repository: SignInRepository,
    private readonly sessions: SessionsService,
    @InjectConfig() private readonly config: ResolvedConfig,
    private readonly clock: Clock,
  ) {}

  async create(
    userId: string,
    identityId: string,
    codeChallenge: string | undefined,
    ctx: RequestContext,
    browserSessionId: string | null = null,
  ): Promise<string> {
    const code = randomToken(32);
    const row: AuthorizationCode = {
      codeHash: sha256(code),
      userId,
      identityId,
      codeChallenge: codeChallenge ?? null,
      expiresAt: this.clock.now() + this.config.codeTtl * 1000,
      consumedAt: null,
      sessionId: null,
      browserSessionId,
      userAgent: ctx.userAgent?.slice(0, 512) ?? null,
      ip: ctx.ip,
    };
    await this.repository.insertCode(row);
    return code;
  }

  /**
   * Spends the code, but only for the app that started the sign-in: the PKCE binding (RFC 7636 §4.6) is checked
   * against the stored row first, so a request that fails it spends nothing and revokes nothing. Whoever holds only
   * the code (intercepted, RFC 7636 §1; or from a log or the browser's history) can then neither burn it before the
   * app exchanges it nor end the session it started, and the app's own exchange still works after such attempts
   * (SECURITY.md L3). The spend is one conditional UPDATE, so of concurrent correct exchanges exactly one wins. A correct
   * exchange of a code already spent is a replay: the row comes back as `reused` so the caller revokes what it issued
   * (RFC 6749 §4.1.2).
   */
  async consume(code: string, codeVerifier: string | undefined): Promise<{ row: AuthorizationCode } | { reused: AuthorizationCode }> {
    const hash = sha256(code);
    const found = await this.repository.findCode(hash);
    if (!found) throw badCode();
    const now = this.clock.now();
    const refusal = pkceRefusal(found.codeChallenge, codeVerifier);
    // A spent or expired code is refused like an unknown one, whatever was wrong with the verifier.
    if (refusal) throw found.consumedAt === null && found.expiresAt > now ? new DomainError('invalid_grant', refusal) : badCode();
    if (await this.repository.spendCode(hash, now)) return { row: { ...found, consumedAt: now } };
    // Spent before, or by a concurrent exchange that won: read it again for the session that exchange started.
    const row = await this.repository.findCode(hash);
    if (row?.consumedAt != null) return { reused: row };
    throw badCode();
  }

  /**
   * Starts the session a spent code signs in, and records it on the code (a replayed code then ends it), in one
   * transaction. The session belongs to `browser`, the one that signed in.
   */
  startSession(row: AuthorizationCode, browser: RequestContext): Promise<IssuedSession> {
    return this.database.transaction(async () => {
      const issued = await this.sessions.create(row.userId, row.identityId, browser, row.browserSessionId);
      await this.repository.setCodeSession(row.codeHash, issued.session.id);
      return issued;
    });
  }

  async purgeExpired(): Promise<void> {
    // Keep spent codes a while past expiry so a late replay is still recognised as reuse.
    const before = this.clock.now() - 3600_000;
    await this.repository.deleteCodesExpiredBefore(before);
  }
}
