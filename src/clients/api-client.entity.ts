import { Column, Entity, PrimaryColumn } from 'typeorm';
import { epochMs } from '../database/columns.js';
import type { ClientAuthMethod, GrantType } from './oauth-metadata.js';

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

  // OAuth client metadata (RFC 7591 §2) for the OpenID Provider (issue 17); see oauth-metadata.ts.
  @Column({ name: 'redirect_uris', type: 'simple-json', nullable: true })
  redirectUris: string[] | null;

  @Column({ name: 'post_logout_redirect_uris', type: 'simple-json', nullable: true })
  postLogoutRedirectUris: string[] | null;

  /** NULL: a client from before the OpenID Provider, client_credentials only. */
  @Column({ name: 'grant_types', type: 'simple-json', nullable: true })
  grantTypes: GrantType[] | null;

  @Column({ name: 'token_endpoint_auth_method', type: 'varchar', length: 32, nullable: true })
  tokenEndpointAuthMethod: ClientAuthMethod | null;

  @Column({ name: 'backchannel_logout_uri', type: 'varchar', length: 2048, nullable: true })
  backchannelLogoutUri: string | null;

  /** First party: no consent screen, offline_access implied. */
  @Column({ name: 'first_party', type: 'boolean', default: false })
  firstParty: boolean;
}
