import { Column, Entity, PrimaryColumn } from 'typeorm';
import { epochMs } from '../database/columns.js';

@Entity('users')
export class User {
  @PrimaryColumn({ type: 'varchar', length: 36 })
  id: string;

  /** Lower-cased; the account's contact email, taken from the identity that created it. */
  @Column({ type: 'varchar', length: 320, nullable: true })
  email: string | null;

  /** True only when a provider that asserts `email_verified` (never Facebook) verified this email. */
  @Column({ name: 'email_verified', type: 'boolean', default: false })
  emailVerified: boolean;

  @Column({ type: 'varchar', length: 200, nullable: true })
  name: string | null;

  @Column({ type: 'varchar', length: 2048, nullable: true })
  picture: string | null;

  /** Roles assigned here: `user`, ADMIN_EMAILS' `admin`, and whatever an admin gives. A provider sync never touches them. */
  @Column({ type: 'simple-json' })
  roles: string[];

  /** Roles mapped from providers' claims, the union over the user's identities; recomputed at each such sign-in. */
  @Column({ name: 'provider_roles', type: 'simple-json' })
  providerRoles: string[];

  @Column({ type: 'boolean', default: false })
  disabled: boolean;

  @Column({ name: 'created_at', type: 'bigint', transformer: epochMs })
  createdAt: number;

  @Column({ name: 'updated_at', type: 'bigint', transformer: epochMs })
  updatedAt: number;
}
