import { Table, type MigrationInterface, type QueryRunner } from 'typeorm';

/**
 * The OpenID Provider (issue 17, docs/openid-provider.md): oidc-provider's protocol state, the bindings that keep it
 * one model with our sessions, and the OAuth metadata API clients gain. Plain ALTER TABLE … ADD COLUMN on
 * api_clients, which SQLite and PostgreSQL both run in place.
 */
export class OpenIdProvider1764800000000 implements MigrationInterface {
  name = 'OpenIdProvider1764800000000';

  async up(q: QueryRunner): Promise<void> {
    // oidc-provider's adapter storage: interactions, its session mirror, codes, grants, refresh tokens.
    await q.createTable(
      new Table({
        name: 'oidc_payloads',
        columns: [
          { name: 'model', type: 'varchar', length: '32', isPrimary: true },
          { name: 'id', type: 'varchar', length: '255', isPrimary: true },
          { name: 'payload', type: 'text' },
          { name: 'grant_id', type: 'varchar', length: '64', isNullable: true },
          { name: 'uid', type: 'varchar', length: '64', isNullable: true },
          { name: 'expires_at', type: 'bigint', isNullable: true },
          { name: 'consumed_at', type: 'bigint', isNullable: true },
        ],
        indices: [
          { name: 'idx_oidc_payloads_grant', columnNames: ['grant_id'] },
          { name: 'idx_oidc_payloads_uid', columnNames: ['uid'] },
          { name: 'idx_oidc_payloads_expires', columnNames: ['expires_at'] },
        ],
      }),
    );
    // Which browser session of ours an oidc-provider session mirrors.
    await q.createTable(
      new Table({
        name: 'oidc_browser_sessions',
        columns: [
          { name: 'session_uid', type: 'varchar', length: '64', isPrimary: true },
          { name: 'browser_session_id', type: 'varchar', length: '36' },
          { name: 'user_id', type: 'varchar', length: '36' },
          { name: 'created_at', type: 'bigint' },
        ],
        indices: [{ name: 'idx_oidc_browser_sessions_browser', columnNames: ['browser_session_id'] }],
      }),
    );
    // The session of ours each grant's tokens belong to (their `sid`, what the account page lists and revokes).
    await q.createTable(
      new Table({
        name: 'oidc_grant_sessions',
        columns: [
          { name: 'grant_id', type: 'varchar', length: '64', isPrimary: true },
          { name: 'session_id', type: 'varchar', length: '36' },
          { name: 'client_id', type: 'varchar', length: '64' },
          { name: 'user_id', type: 'varchar', length: '36' },
          { name: 'oidc_sid', type: 'varchar', length: '64', isNullable: true },
          { name: 'created_at', type: 'bigint' },
        ],
        indices: [{ name: 'idx_oidc_grant_sessions_session', columnNames: ['session_id'] }],
      }),
    );
    // RFC 7591 §2 client metadata; NULL grant_types is today's client: client_credentials only.
    await q.query('ALTER TABLE api_clients ADD COLUMN redirect_uris text NULL');
    await q.query('ALTER TABLE api_clients ADD COLUMN post_logout_redirect_uris text NULL');
    await q.query('ALTER TABLE api_clients ADD COLUMN grant_types text NULL');
    await q.query('ALTER TABLE api_clients ADD COLUMN token_endpoint_auth_method varchar(32) NULL');
    await q.query('ALTER TABLE api_clients ADD COLUMN backchannel_logout_uri varchar(2048) NULL');
    await q.query('ALTER TABLE api_clients ADD COLUMN first_party boolean NOT NULL DEFAULT false');
  }

  async down(q: QueryRunner): Promise<void> {
    for (const column of [
      'first_party',
      'backchannel_logout_uri',
      'token_endpoint_auth_method',
      'grant_types',
      'post_logout_redirect_uris',
      'redirect_uris',
    ]) {
      await q.query(`ALTER TABLE api_clients DROP COLUMN ${column}`);
    }
    await q.dropTable('oidc_grant_sessions');
    await q.dropTable('oidc_browser_sessions');
    await q.dropTable('oidc_payloads');
  }
}
