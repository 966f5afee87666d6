import { Table, TableColumn, type MigrationInterface, type QueryRunner } from 'typeorm';

/** Roles mapped from providers kept apart from assigned ones, and single-use tickets for linking another provider. */
export class Accounts1764300000000 implements MigrationInterface {
  name = 'Accounts1764300000000';

  async up(q: QueryRunner): Promise<void> {
    await q.addColumn('identities', new TableColumn({ name: 'mapped_roles', type: 'text', default: "'[]'" }));
    await q.addColumn('users', new TableColumn({ name: 'provider_roles', type: 'text', default: "'[]'" }));
    await q.createTable(
      new Table({
        name: 'link_tickets',
        columns: [
          { name: 'ticket_hash', type: 'varchar', length: '64', isPrimary: true },
          { name: 'user_id', type: 'varchar', length: '36' },
          { name: 'provider', type: 'varchar', length: '64' },
          { name: 'return_to', type: 'varchar', length: '2048' },
          { name: 'expires_at', type: 'bigint' },
          { name: 'used_at', type: 'bigint', isNullable: true },
        ],
        foreignKeys: [{ columnNames: ['user_id'], referencedTableName: 'users', referencedColumnNames: ['id'], onDelete: 'CASCADE' }],
      }),
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.dropTable('link_tickets');
    await q.dropColumn('users', 'provider_roles');
    await q.dropColumn('identities', 'mapped_roles');
  }
}
