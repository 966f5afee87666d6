import { Column, Entity, PrimaryGeneratedColumn } from 'typeorm';
import { epochMs } from '../database/columns.js';

export type RevocationKind = 'session' | 'user' | 'keys';

/**
 * One entry of the revocation feed. `session`: that sid's access tokens stop working. `user`: the user's tokens
 * issued at or before `notBefore` stop working (disable, role change). `keys`: signing keys changed; reload them.
 * Rows are kept until every access token they could concern has expired.
 */
@Entity('revocations')
export class Revocation {
  /** bigint: a string from node-pg; compared as a number (ids stay far below 2^53). */
  @PrimaryGeneratedColumn({ type: 'bigint' })
  id: string;

  @Column({ type: 'varchar', length: 16 })
  kind: RevocationKind;

  @Column({ type: 'varchar', length: 64, nullable: true })
  subject: string | null;

  @Column({ name: 'not_before', type: 'bigint', transformer: epochMs, nullable: true })
  notBefore: number | null;

  @Column({ type: 'bigint', transformer: epochMs })
  at: number;

  @Column({ name: 'expires_at', type: 'bigint', transformer: epochMs })
  expiresAt: number;
}
