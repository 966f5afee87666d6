import { Column, Entity, PrimaryColumn } from 'typeorm';
import { epochMs } from '../database/columns.js';

/**
 * Stored only as a hash (SECURITY.md S5). `usedAt` set = spent (or retired by a retry within REFRESH_REUSE_GRACE);
 * presenting it again is reuse (RFC 9700 §4.14.2), except for that one retry (see SessionsService.rotate).
 */
@Entity('refresh_tokens')
export class RefreshToken {
  @PrimaryColumn({ name: 'token_hash', type: 'varchar', length: 64 })
  tokenHash: string;

  @Column({ name: 'session_id', type: 'varchar', length: 36 })
  sessionId: string;

  @Column({ name: 'created_at', type: 'bigint', transformer: epochMs })
  createdAt: number;

  @Column({ name: 'used_at', type: 'bigint', transformer: epochMs, nullable: true })
  usedAt: number | null;

  /** The hash of the token that spending this one issued; null while unused, and for a token a retry retired. */
  @Column({ name: 'replaced_by', type: 'varchar', length: 64, nullable: true })
  replacedBy: string | null;
}
