import { Column, Entity, PrimaryColumn } from 'typeorm';
import { epochMs } from '../database/columns.js';

/** The one-time code the callback hands to the app; only its hash is stored (SECURITY.md S5). */
@Entity('authorization_codes')
export class AuthorizationCode {
  @PrimaryColumn({ name: 'code_hash', type: 'varchar', length: 64 })
  codeHash: string;

  @Column({ name: 'user_id', type: 'varchar', length: 36 })
  userId: string;

  @Column({ name: 'identity_id', type: 'varchar', length: 36 })
  identityId: string;

  /** The app's PKCE S256 challenge, when it sent one at login (RFC 7636 §4.3). */
  @Column({ name: 'code_challenge', type: 'varchar', length: 128, nullable: true })
  codeChallenge: string | null;

  @Column({ name: 'expires_at', type: 'bigint', transformer: epochMs })
  expiresAt: number;

  @Column({ name: 'consumed_at', type: 'bigint', transformer: epochMs, nullable: true })
  consumedAt: number | null;

  /** The session the code was exchanged for: revoked if the code is ever presented again (RFC 6749 §4.1.2). */
  @Column({ name: 'session_id', type: 'varchar', length: 36, nullable: true })
  sessionId: string | null;

  /** The browser session of the sign-in, handed on to the session the code starts. */
  @Column({ name: 'browser_session_id', type: 'varchar', length: 36, nullable: true })
  browserSessionId: string | null;

  @Column({ name: 'user_agent', type: 'varchar', length: 512, nullable: true })
  userAgent: string | null;

  @Column({ type: 'varchar', length: 64, nullable: true })
  ip: string | null;
}
