import { Injectable } from '@nestjs/common';
import { IsNull, LessThan } from 'typeorm';
import { Database } from '../database/db.service.js';
import { SigningKey } from './signing-key.entity.js';

/** The `signing_keys` table: every instance signs and verifies with the keys stored here. */
@Injectable()
export class SigningKeysRepository {
  constructor(private readonly database: Database) {}

  /** Newest first. */
  all(): Promise<SigningKey[]> {
    return this.database.run((manager) => manager.find(SigningKey, { order: { createdAt: 'DESC' } }));
  }

  /**
   * Retires the key `kid` if it is still current (or, without `kid`, every current key); returns how many it
   * retired. Conditional, so of several instances retiring the same key at once exactly one does.
   */
  async retire(kid: string | undefined, change: Pick<SigningKey, 'retiredAt' | 'expiresAt'>): Promise<number> {
    const res = await this.database.run((manager) =>
      manager.update(SigningKey, kid === undefined ? { retiredAt: IsNull() } : { kid, retiredAt: IsNull() }, change),
    );
    return res.affected ?? 0;
  }

  async insert(key: SigningKey): Promise<void> {
    await this.database.run((manager) => manager.insert(SigningKey, key));
  }

  async deleteExpired(now: number): Promise<void> {
    await this.database.run((manager) => manager.delete(SigningKey, { expiresAt: LessThan(now) }));
  }
}
