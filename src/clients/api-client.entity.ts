import { Column, Entity, PrimaryColumn } from 'typeorm';
import { epochMs } from '../database/columns.js';

/**
 * A backend app that obtains tokens of its own with the client-credentials grant (RFC 6749 §4.4), like Keycloak's
 * service accounts. Secrets are kept only as hashes; after a rotation the previous one stays valid for a grace period.
 */
@Entity('api_clients')
export class ApiClient {
  /** The public `client_id` (also the `sub` of the client's tokens). */
  @PrimaryColumn({ name: 'client_id', type: 'varchar', length: 64 })
  clientId: string;

  @Column({ type: 'varchar', length: 200 })
  name: string;

  @Column({ type: 'simple-json' })
  roles: string[];

  /** The scopes the client may ask for; it gets all of them when it asks for none. */
  @Column({ type: 'simple-json' })
  scopes: string[];

  @Column({ type: 'boolean', default: false })
  disabled: boolean;

  @Column({ name: 'secret_hash', type: 'varchar', length: 64 })
  secretHash: string;

  @Column({ name: 'previous_secret_hash', type: 'varchar', length: 64, nullable: true })
  previousSecretHash: string | null;

  /** Until when the previous secret is still accepted (epoch ms). */
  @Column({ name: 'previous_secret_expires_at', type: 'bigint', transformer: epochMs, nullable: true })
  previousSecretExpiresAt: number | null;

  @Column({ name: 'secret_rotated_at', type: 'bigint', transformer: epochMs })
  secretRotatedAt: number;

  @Column({ name: 'created_at', type: 'bigint', transformer: epochMs })
  createdAt: number;

  @Column({ name: 'updated_at', type: 'bigint', transformer: epochMs })
  updatedAt: number;
}
