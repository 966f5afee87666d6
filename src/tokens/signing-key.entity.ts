import { Column, Entity, PrimaryColumn } from 'typeorm';
import { epochMs, type JsonObject } from '../database/columns.js';

/** A token-signing key shared by every instance; the private half is sealed with a key derived from APP_SECRET. */
@Entity('signing_keys')
export class SigningKey {
  @PrimaryColumn({ type: 'varchar', length: 64 })
  kid: string;

  @Column({ type: 'varchar', length: 16 })
  alg: string;

  @Column({ name: 'public_jwk', type: 'simple-json' })
  publicJwk: JsonObject;

  @Column({ name: 'private_key', type: 'text' })
  privateKeySealed: string;

  @Column({ name: 'created_at', type: 'bigint', transformer: epochMs })
  createdAt: number;

  /** Set when a newer key takes over signing; the key stays in the JWKS until expiresAt. */
  @Column({ name: 'retired_at', type: 'bigint', transformer: epochMs, nullable: true })
  retiredAt: number | null;

  @Column({ name: 'expires_at', type: 'bigint', transformer: epochMs, nullable: true })
  expiresAt: number | null;
}
