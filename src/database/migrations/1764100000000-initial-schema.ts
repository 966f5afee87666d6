import { Table, TableIndex, type MigrationInterface, type QueryRunner, type TableColumnOptions } from 'typeorm';

/**
 * Written with TypeORM's schema API (no raw SQL) so the same migration builds SQLite and PostgreSQL.
 * Times are epoch-ms bigints (see database/columns.ts).
 */
const id = (name = 'id'): TableColumnOptions => ({ name, type: 'varchar', length: '36', isPrimary: true });
const ref = (name: string, nullable = false): TableColumnOptions => ({ name, type: 'varchar', length: '36', isNullable: nullable });
const time = (name: string, nullable = false): TableColumnOptions => ({ name, type: 'bigint', isNullable: nullable });
const text = (name: string, length: number, nullable = true): TableColumnOptions => ({
  name,
  type: 'varchar',
  length: String(length),
  isNullable: nullable,
});
const flag = (name: string): TableColumnOptions => ({ name, type: 'boolean', default: false });
const cascadeTo = (table: string, column: string) => ({
  columnNames: [column],
  referencedTableName: table,
  referencedColumnNames: ['id'],
  onDelete: 'CASCADE',
});

export class InitialSchema1764100000000 implements MigrationInterface {
  name = 'InitialSchema1764100000000';

  async up(q: QueryRunner): Promise<void> {
    const postgres = q.connection.options.type === 'postgres';

    await q.createTable(
      new Table({
        name: 'users',
        columns: [
          id(),
          text('email', 320),
          flag('email_verified'),
          text('name', 200),
          text('picture', 2048),
          { name: 'roles', type: 'text' },
          flag('disabled'),
          time('created_at'),
          time('updated_at'),
        ],
        indices: [{ name: 'idx_users_email', columnNames: ['email'] }],
      }),
    );

    await q.createTable(
      new Table({
        name: 'identities',
        columns: [
          id(),
          ref('user_id'),
          text('provider', 64, false),
          text('subject', 255, false),
          text('email', 320),
          flag('email_verified'),
          text('name', 200),
          text('picture', 2048),
          { name: 'claims', type: 'text' },
          time('linked_at'),
          time('last_sign_in_at'),
        ],
        uniques: [{ name: 'uq_identities_provider_subject', columnNames: ['provider', 'subject'] }],
        indices: [
          { name: 'idx_identities_user', columnNames: ['user_id'] },
          { name: 'idx_identities_email', columnNames: ['email'] },
        ],
        foreignKeys: [cascadeTo('users', 'user_id')],
      }),
    );

    await q.createTable(
      new Table({
        name: 'sessions',
        columns: [
          id(),
          ref('user_id'),
          ref('identity_id', true),
          time('created_at'),
          time('last_used_at'),
          time('expires_at'),
          time('revoked_at', true),
          text('revoked_reason', 64),
          text('user_agent', 512),
          text('ip', 64),
        ],
        indices: [{ name: 'idx_sessions_user', columnNames: ['user_id'] }],
        foreignKeys: [cascadeTo('users', 'user_id')],
      }),
    );

    await q.createTable(
      new Table({
        name: 'refresh_tokens',
        columns: [
          { name: 'token_hash', type: 'varchar', length: '64', isPrimary: true },
          ref('session_id'),
          time('created_at'),
          time('used_at', true),
        ],
        indices: [{ name: 'idx_refresh_tokens_session', columnNames: ['session_id'] }],
        foreignKeys: [cascadeTo('sessions', 'session_id')],
      }),
    );

    await q.createTable(
      new Table({
        name: 'authorization_codes',
        columns: [
          { name: 'code_hash', type: 'varchar', length: '64', isPrimary: true },
          ref('user_id'),
          ref('identity_id'),
          text('code_challenge', 128),
          time('expires_at'),
          time('consumed_at', true),
          ref('session_id', true),
          text('user_agent', 512),
          text('ip', 64),
        ],
        indices: [{ name: 'idx_authorization_codes_expires', columnNames: ['expires_at'] }],
        foreignKeys: [cascadeTo('users', 'user_id')],
      }),
    );

    await q.createTable(
      new Table({
        name: 'used_login_states',
        columns: [{ name: 'state_hash', type: 'varchar', length: '64', isPrimary: true }, time('expires_at')],
        indices: [{ name: 'idx_used_login_states_expires', columnNames: ['expires_at'] }],
      }),
    );

    await q.createTable(
      new Table({
        name: 'signing_keys',
        columns: [
          { name: 'kid', type: 'varchar', length: '64', isPrimary: true },
          text('alg', 16, false),
          { name: 'public_jwk', type: 'text' },
          { name: 'private_key', type: 'text' },
          time('created_at'),
          time('retired_at', true),
          time('expires_at', true),
        ],
      }),
    );

    await q.createTable(
      new Table({
        name: 'audit_events',
        columns: [
          // SQLite only auto-increments an INTEGER PRIMARY KEY (which is 64-bit there); PostgreSQL gets bigserial.
          { name: 'id', type: postgres ? 'bigint' : 'integer', isPrimary: true, isGenerated: true, generationStrategy: 'increment' },
          time('at'),
          text('type', 64, false),
          text('actor_id', 64),
          ref('user_id', true),
          text('provider', 64),
          text('reason', 128),
          text('ip', 64),
          text('user_agent', 512),
          { name: 'details', type: 'text', isNullable: true },
        ],
      }),
    );
    await q.createIndices('audit_events', [
      new TableIndex({ name: 'idx_audit_events_user', columnNames: ['user_id', 'id'] }),
      new TableIndex({ name: 'idx_audit_events_type', columnNames: ['type', 'id'] }),
    ]);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const t of [
      'audit_events',
      'signing_keys',
      'used_login_states',
      'authorization_codes',
      'refresh_tokens',
      'sessions',
      'identities',
      'users',
    ]) {
      await q.dropTable(t);
    }
  }
}
