import { Column, Entity, PrimaryGeneratedColumn } from 'typeorm';
import { epochMs, type JsonObject } from '../database/columns.js';

/** Append-only security events. Rows outlive the users they name (no foreign key), so deletions stay explained. */
@Entity('audit_events')
export class AuditEvent {
  /** A bigint: node-pg returns it as a string, so it stays one everywhere (it is only an opaque cursor). */
  @PrimaryGeneratedColumn({ type: 'bigint' })
  id: string;

  @Column({ type: 'bigint', transformer: epochMs })
  at: number;

  @Column({ type: 'varchar', length: 64 })
  type: string;

  @Column({ name: 'actor_id', type: 'varchar', length: 64, nullable: true })
  actorId: string | null;

  @Column({ name: 'user_id', type: 'varchar', length: 36, nullable: true })
  userId: string | null;

  @Column({ type: 'varchar', length: 64, nullable: true })
  provider: string | null;

  /** The linking rule or other reason behind the event. */
  @Column({ type: 'varchar', length: 128, nullable: true })
  reason: string | null;

  @Column({ type: 'varchar', length: 64, nullable: true })
  ip: string | null;

  @Column({ name: 'user_agent', type: 'varchar', length: 512, nullable: true })
  userAgent: string | null;

  @Column({ type: 'simple-json', nullable: true })
  details: JsonObject | null;
}
