import { Column, Entity, PrimaryColumn } from 'typeorm';
import { epochMs } from '../database/columns.js';

/** A single-use, short-lived permission to link one more provider identity to a user (stored as a hash). */
@Entity('link_tickets')
export class LinkTicket {
  @PrimaryColumn({ name: 'ticket_hash', type: 'varchar', length: 64 })
  ticketHash: string;

  @Column({ name: 'user_id', type: 'varchar', length: 36 })
  userId: string;

  @Column({ type: 'varchar', length: 64 })
  provider: string;

  @Column({ name: 'return_to', type: 'varchar', length: 2048 })
  returnTo: string;

  @Column({ name: 'expires_at', type: 'bigint', transformer: epochMs })
  expiresAt: number;

  @Column({ name: 'used_at', type: 'bigint', transformer: epochMs, nullable: true })
  usedAt: number | null;
}
