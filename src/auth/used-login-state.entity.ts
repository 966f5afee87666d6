import { Column, Entity, PrimaryColumn } from 'typeorm';
import { epochMs } from '../database/columns.js';

/**
 * A login `state` that reached the callback. The insert is the single-use check (SECURITY.md F1): a second callback
 * with the same state, even with a copied cookie and on another instance, hits the primary key and is refused.
 */
@Entity('used_login_states')
export class UsedLoginState {
  @PrimaryColumn({ name: 'state_hash', type: 'varchar', length: 64 })
  stateHash: string;

  @Column({ name: 'expires_at', type: 'bigint', transformer: epochMs })
  expiresAt: number;
}
