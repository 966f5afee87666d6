import { Column, Entity, PrimaryColumn } from 'typeorm';
import { epochMs } from '../database/columns.js';

/** One per sign-in; the `sid` of its access tokens. Ending it ends its refresh tokens and access tokens. */
@Entity('sessions')
export class Session {
  @PrimaryColumn({ type: 'varchar', length: 36 })
  id: string;

  @Column({ name: 'user_id', type: 'varchar', length: 36 })
  userId: string;

  @Column({ name: 'identity_id', type: 'varchar', length: 36, nullable: true })
  identityId: string | null;

  @Column({ name: 'created_at', type: 'bigint', transformer: epochMs })
  createdAt: number;

  @Column({ name: 'last_used_at', type: 'bigint', transformer: epochMs })
  lastUsedAt: number;

  /** Absolute end (REFRESH_TOKEN_TTL after sign-in); the idle end is lastUsedAt + REFRESH_IDLE_TTL. */
  @Column({ name: 'expires_at', type: 'bigint', transformer: epochMs })
  expiresAt: number;

  @Column({ name: 'revoked_at', type: 'bigint', transformer: epochMs, nullable: true })
  revokedAt: number | null;

  @Column({ name: 'revoked_reason', type: 'varchar', length: 64, nullable: true })
  revokedReason: string | null;

  /** An app's session: the browser session it was signed in through (an app's logout ends that one too). */
  @Column({ name: 'browser_session_id', type: 'varchar', length: 36, nullable: true })
  browserSessionId: string | null;

  @Column({ name: 'user_agent', type: 'varchar', length: 512, nullable: true })
  userAgent: string | null;

  @Column({ type: 'varchar', length: 64, nullable: true })
  ip: string | null;
}
