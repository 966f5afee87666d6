import { Injectable } from '@nestjs/common';
import { Database } from '../database/db.service.js';

/** What a person allowed a client: scopes and claims, when first and last. */
export interface ConsentRow {
  userId: string;
  clientId: string;
  scopes: string[];
  claims: string[];
  createdAt: number;
  updatedAt: number;
}

/** A consent as "Apps with access" lists it: with the client's name and when its sessions were last used. */
export interface ListedConsent extends ConsentRow {
  clientName: string | null;
  lastUsedAt: number | null;
}

/** A session of ours that belongs to a client of the OpenID Provider (oidc_grant_sessions). */
export interface ClientSession {
  sessionId: string;
  clientId: string;
  clientName: string | null;
}

interface Raw {
  user_id: string;
  client_id: string;
  scopes: string;
  claims: string;
  created_at: string | number;
  updated_at: string | number;
}

const parse = (text: string): string[] => {
  const value = JSON.parse(text) as unknown;
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
};

const row = (r: Raw): ConsentRow => ({
  userId: r.user_id,
  clientId: r.client_id,
  scopes: parse(r.scopes),
  claims: parse(r.claims),
  createdAt: Number(r.created_at),
  updatedAt: Number(r.updated_at),
});

/**
 * Consents of the OpenID Provider's third-party clients (oidc_consents), the oidc-provider grants made from them
 * (oidc_consent_grants), and the sessions of ours those grants' tokens belong to (oidc_grant_sessions). Plain SQL,
 * the same text on SQLite and PostgreSQL.
 */
@Injectable()
export class ConsentsRepository {
  constructor(private readonly database: Database) {}

  async find(userId: string, clientId: string): Promise<ConsentRow | undefined> {
    const { rows } = await this.database.sql<Raw>(
      'SELECT user_id, client_id, scopes, claims, created_at, updated_at FROM oidc_consents WHERE user_id = :userId AND client_id = :clientId',
      { userId, clientId },
    );
    return rows[0] && row(rows[0]);
  }

  /** Inserts or replaces the person's consent to this client (the caller merges, in its transaction). */
  async save(consent: ConsentRow): Promise<void> {
    await this.database.sql(
      `INSERT INTO oidc_consents (user_id, client_id, scopes, claims, created_at, updated_at)
         VALUES (:userId, :clientId, :scopes, :claims, :createdAt, :updatedAt)
         ON CONFLICT (user_id, client_id) DO UPDATE SET scopes = excluded.scopes, claims = excluded.claims,
           updated_at = excluded.updated_at`,
      {
        userId: consent.userId,
        clientId: consent.clientId,
        scopes: JSON.stringify(consent.scopes),
        claims: JSON.stringify(consent.claims),
        createdAt: consent.createdAt,
        updatedAt: consent.updatedAt,
      },
    );
  }

  /** Deletes it; whether there was one (of concurrent revocations, one is audited). */
  async delete(userId: string, clientId: string): Promise<boolean> {
    const { affected } = await this.database.sql('DELETE FROM oidc_consents WHERE user_id = :userId AND client_id = :clientId', {
      userId,
      clientId,
    });
    return affected === 1;
  }

  /**
   * The person's consents, oldest first, with the client's name (null once the client is deleted) and the last use of
   * any session of the client's grants for this person.
   */
  async listOf(userId: string): Promise<ListedConsent[]> {
    const { rows } = await this.database.sql<Raw & { name: string | null; last_used_at: string | number | null }>(
      `SELECT c.user_id, c.client_id, c.scopes, c.claims, c.created_at, c.updated_at, a.name,
              (SELECT MAX(s.last_used_at) FROM oidc_grant_sessions g JOIN sessions s ON s.id = g.session_id
                 WHERE g.user_id = c.user_id AND g.client_id = c.client_id) AS last_used_at
         FROM oidc_consents c LEFT JOIN api_clients a ON a.client_id = c.client_id
        WHERE c.user_id = :userId
        ORDER BY c.created_at, c.client_id`,
      { userId },
    );
    return rows.map((r) => ({ ...row(r), clientName: r.name, lastUsedAt: r.last_used_at === null ? null : Number(r.last_used_at) }));
  }

  /** Records a grant made from the person's consent to this client (idempotent). */
  async addGrant(grantId: string, userId: string, clientId: string): Promise<void> {
    await this.database.sql(
      `INSERT INTO oidc_consent_grants (grant_id, user_id, client_id, created_at) VALUES (:grantId, :userId, :clientId, :now)
         ON CONFLICT (grant_id) DO NOTHING`,
      { grantId, userId, clientId, now: Date.now() },
    );
  }

  /** Every grant of this client for this person: made from a consent, or that got tokens (its session of ours). */
  async grantsOf(userId: string, clientId: string): Promise<string[]> {
    const { rows } = await this.database.sql<{ grant_id: string }>(
      `SELECT grant_id FROM oidc_consent_grants WHERE user_id = :userId AND client_id = :clientId
       UNION SELECT grant_id FROM oidc_grant_sessions WHERE user_id = :userId AND client_id = :clientId`,
      { userId, clientId },
    );
    return rows.map((r) => r.grant_id);
  }

  async deleteGrants(userId: string, clientId: string): Promise<void> {
    await this.database.sql('DELETE FROM oidc_consent_grants WHERE user_id = :userId AND client_id = :clientId', { userId, clientId });
  }

  /** The sessions of ours this client's grants for this person got (active or not: the caller ends the active ones). */
  async sessionsOf(userId: string, clientId: string): Promise<string[]> {
    const { rows } = await this.database.sql<{ session_id: string }>(
      'SELECT session_id FROM oidc_grant_sessions WHERE user_id = :userId AND client_id = :clientId',
      { userId, clientId },
    );
    return rows.map((r) => r.session_id);
  }

  /** Which of the person's sessions belong to a client, with its name: for the session lists. */
  async clientSessionsOf(userId: string): Promise<ClientSession[]> {
    const { rows } = await this.database.sql<{ session_id: string; client_id: string; name: string | null }>(
      `SELECT g.session_id, g.client_id, a.name FROM oidc_grant_sessions g LEFT JOIN api_clients a ON a.client_id = g.client_id
        WHERE g.user_id = :userId`,
      { userId },
    );
    return rows.map((r) => ({ sessionId: r.session_id, clientId: r.client_id, clientName: r.name }));
  }
}
