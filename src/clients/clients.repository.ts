import { Injectable } from '@nestjs/common';
import { Database } from '../database/db.service.js';
import { ApiClient } from './api-client.entity.js';

/** The `api_clients` table. */
@Injectable()
export class ClientsRepository {
  constructor(private readonly database: Database) {}

  async insert(client: ApiClient): Promise<void> {
    await this.database.run((manager) => manager.insert(ApiClient, client));
  }

  /** Oldest first. */
  list(): Promise<ApiClient[]> {
    return this.database.run((manager) => manager.find(ApiClient, { order: { createdAt: 'ASC', clientId: 'ASC' } }));
  }

  /**
   * The client, or null. `forUpdate` takes its row lock (PostgreSQL) until the transaction ends, so concurrent changes
   * of one client take turns; on SQLite, transactions already do.
   */
  find(clientId: string, opts: { forUpdate?: boolean } = {}): Promise<ApiClient | null> {
    return this.database.run((manager) => {
      const q = manager.createQueryBuilder(ApiClient, 'c').where('c.client_id = :clientId', { clientId });
      if (opts.forUpdate && this.database.postgres) q.setLock('pessimistic_write');
      return q.getOne();
    });
  }

  async update(clientId: string, change: Partial<Omit<ApiClient, 'clientId'>>): Promise<void> {
    await this.database.run((manager) => manager.update(ApiClient, { clientId }, change));
  }

  async delete(clientId: string): Promise<void> {
    await this.database.run((manager) => manager.delete(ApiClient, { clientId }));
  }
}
