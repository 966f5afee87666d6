import { Injectable } from '@nestjs/common';
import { LessThan } from 'typeorm';
import { SessionsService, type IssuedSession } from '../tokens/sessions.service.js';
import type { RequestContext } from '../audit/audit.service.js';
import { Clock } from '../common/clock.js';
import { pkceChallenge, randomToken, safeEqual, sha256 } from '../common/crypto.js';
import { DomainError } from '../common/domain-error.js';
import { InjectConfig } from '../config/config.module.js';
import type { ResolvedConfig } from '../config/app-secret.js';
import { Db } from '../database/db.service.js';
import { AuthorizationCode } from './authorization-code.entity.js';

/** RFC 7636 §4.1: 43–128 characters of the unreserved set. */
const VERIFIER = /^[A-Za-z0-9._~-]{43,128}$/;
/** An S256 challenge is a base64url SHA-256: exactly 43 characters. */
export const S256_CHALLENGE = /^[A-Za-z0-9_-]{43}$/;

const badCode = () => new DomainError('invalid_grant', 'the code is invalid, expired or already used');

/** The one-time code the sign-in callback hands to the app: single use, ≤ 60 s, hashed at rest, PKCE-bound. */
@Injectable()
export class AuthorizationCodesService {
  constructor(
    private readonly db: Db,
    private readonly sessions: SessionsService,
    @InjectConfig() private readonly config: ResolvedConfig,
    private readonly clock: Clock,
  ) {}

  async create(userId: string, identityId: string, codeChallenge: string | undefined, ctx: RequestContext): Promise<string> {
    const code = randomToken(32);
    const row = {
      codeHash: sha256(code),
      userId,
      identityId,
      codeChallenge: codeChallenge ?? null,
      expiresAt: this.clock.now() + this.config.codeTtl * 1000,
      consumedAt: null,
      sessionId: null,
      userAgent: ctx.userAgent?.slice(0, 512) ?? null,
      ip: ctx.ip,
    };
    await this.db.run((m) => this.db.insertRow(m, AuthorizationCode, row));
    return code;
  }

  /**
   * Spends the code with one conditional UPDATE, so of concurrent exchanges exactly one wins. A code presented again
   * after it was spent returns the row as `reused` so the caller can revoke what it issued (RFC 6749 §4.1.2).
   */
  async consume(code: string, codeVerifier: string | undefined): Promise<{ row: AuthorizationCode } | { reused: AuthorizationCode }> {
    const hash = sha256(code);
    const now = this.clock.now();
    const { spent, row } = await this.db.run(async (m) => ({
      spent: await this.db.sql(
        m,
        'UPDATE authorization_codes SET consumed_at = :now WHERE code_hash = :hash AND consumed_at IS NULL AND expires_at > :now',
        { now, hash },
      ),
      row: await this.db.findRow(m, AuthorizationCode, { codeHash: hash }),
    }));
    if (spent.affected !== 1) {
      if (row?.consumedAt != null) return { reused: row };
      throw badCode();
    }
    if (!row) throw badCode();
    // PKCE (RFC 7636 §4.6). A verifier without a challenge is refused too: that is a downgrade (RFC 9700 §2.1.1).
    if (row.codeChallenge) {
      if (typeof codeVerifier !== 'string' || !VERIFIER.test(codeVerifier))
        throw new DomainError('invalid_grant', 'code_verifier is missing or malformed');
      const computed = pkceChallenge(codeVerifier);
      if (!safeEqual(computed, row.codeChallenge))
        throw new DomainError('invalid_grant', 'code_verifier does not match the code_challenge');
    } else if (codeVerifier !== undefined) {
      throw new DomainError('invalid_grant', 'code_verifier sent, but the sign-in started without a code_challenge');
    }
    return { row };
  }

  /**
   * Starts the session a spent code signs in, and records it on the code (a replayed code then ends it), in one
   * transaction. The session belongs to `browser`, the one that signed in.
   */
  startSession(row: AuthorizationCode, browser: RequestContext): Promise<IssuedSession> {
    return this.db.transaction(async (m) => {
      const issued = await this.sessions.create(m, row.userId, row.identityId, browser);
      await this.db.updateRows(m, AuthorizationCode, { codeHash: row.codeHash }, { sessionId: issued.session.id });
      return issued;
    });
  }

  async purgeExpired(): Promise<void> {
    // Keep spent codes a while past expiry so a late replay is still recognised as reuse.
    const before = this.clock.now() - 3600_000;
    await this.db.run((m) => m.delete(AuthorizationCode, { expiresAt: LessThan(before) }));
  }
}
