import { Column, Entity, PrimaryColumn } from 'typeorm';
import { epochMs, type JsonObject } from '../database/columns.js';

/** An external identity: unique on (provider, subject), never on email (OIDC Core §5.7). */
@Entity('identities')
export class Identity {
  @PrimaryColumn({ type: 'varchar', length: 36 })
  id: string;

  @Column({ name: 'user_id', type: 'varchar', length: 36 })
  userId: string;

  @Column({ type: 'varchar', length: 64 })
  provider: string;

  @Column({ type: 'varchar', length: 255 })
  subject: string;

  @Column({ type: 'varchar', length: 320, nullable: true })
  email: string | null;

  @Column({ name: 'email_verified', type: 'boolean', default: false })
  emailVerified: boolean;

  @Column({ type: 'varchar', length: 200, nullable: true })
  name: string | null;

  @Column({ type: 'varchar', length: 2048, nullable: true })
  picture: string | null;

  /** The provider's claims as last received (ID token and UserInfo), for admins and role mapping. */
  @Column({ type: 'simple-json' })
  claims: JsonObject;

  /** Local roles this identity's provider grants (OIDC_<ID>_ROLES_CLAIM through OIDC_<ID>_ROLE_MAP). */
  @Column({ name: 'mapped_roles', type: 'simple-json' })
  mappedRoles: string[];

  @Column({ name: 'linked_at', type: 'bigint', transformer: epochMs })
  linkedAt: number;

  @Column({ name: 'last_sign_in_at', type: 'bigint', transformer: epochMs })
  lastSignInAt: number;
}
