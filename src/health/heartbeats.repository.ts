import { Injectable } from '@nestjs/common';
import { Database } from '../database/db.service.js';

/** An instance that has not beaten for this long is gone (restarted, scaled down): its row is deleted. */
const GONE_AFTER_MS = 24 * 3_600_000;

/** `health_heartbeats`: one row per running instance, the write readiness affords every few seconds. */
@Injectable()
export class HeartbeatsRepository {
  constructor(private readonly database: Database) {}

  /** Upserts this instance's row (the same text on SQLite and PostgreSQL) and deletes the rows of instances long gone. */
  async beat(instance: string, at: number): Promise<void> {
    await this.database.transaction(async () => {
      await this.database.sql(
        'INSERT INTO health_heartbeats (instance, beat_at) VALUES (:instance, :at) ON CONFLICT (instance) DO UPDATE SET beat_at = excluded.beat_at',
        { instance, at },
      );
      await this.database.sql('DELETE FROM health_heartbeats WHERE beat_at < :before', { before: at - GONE_AFTER_MS });
    });
  }
}
