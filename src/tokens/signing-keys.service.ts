import { Injectable, Logger, type OnApplicationBootstrap, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { calculateJwkThumbprint, type JWK } from 'jose';
import { Clock } from '../common/clock.js';
import { deriveKey, seal, unseal } from '../common/crypto.js';
import type { JwtAlg } from '../config/config.js';
import { InjectConfig } from '../config/config.module.js';
import type { ResolvedConfig } from '../config/app-secret.js';
import type { JsonObject } from '../database/columns.js';
import { Database } from '../database/db.service.js';
import { RevocationsRepository } from './revocations.repository.js';
import type { SigningKey } from './signing-key.entity.js';
import { SigningKeysRepository } from './signing-keys.repository.js';

export interface ActiveKey {
  kid: string;
  alg: JwtAlg;
  privateKey: KeyObject;
}

export interface VerificationKey {
  kid: string;
  alg: JwtAlg;
  publicKey: KeyObject;
  jwk: JWK;
}

const DAY_MS = 86_400_000;
const ROTATION_CHECK_MS = 3_600_000;
/** A retired key outlives the last token it signed by this much (clock differences, in-flight requests). */
const RETIRED_KEY_MARGIN_S = 300;

function generate(alg: JwtAlg): { privateKey: KeyObject; publicKey: KeyObject } {
  switch (alg) {
    case 'RS256':
      return generateKeyPairSync('rsa', { modulusLength: 2048 });
    case 'ES256':
      return generateKeyPairSync('ec', { namedCurve: 'P-256' });
    case 'EdDSA':
      return generateKeyPairSync('ed25519');
  }
}

/**
 * Token-signing keys live in the database so every instance signs and verifies with the same ones and tokens survive
 * restarts. Keys are imported once as KeyObjects; the guard never parses a key per request.
 */
@Injectable()
export class SigningKeysService implements OnModuleInit, OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(SigningKeysService.name);
  private readonly sealingKey: Buffer;
  private active?: ActiveKey;
  private retired: ActiveKey[] = [];
  private verification = new Map<string, VerificationKey>();
  private activeCreatedAt = 0;
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly database: Database,
    private readonly repository: SigningKeysRepository,
    private readonly revocationFeed: RevocationsRepository,
    @InjectConfig() private readonly config: ResolvedConfig,
    private readonly clock: Clock,
  ) {
    this.sealingKey = deriveKey(config.appSecret, 'signing-keys');
  }

  async onModuleInit(): Promise<void> {
    await this.reload();
    // First start, or JWT_ALG changed: make a key of the configured algorithm (retiring any other).
    if (!this.active) await this.rotate();
  }

  onApplicationBootstrap(): void {
    this.timer = setInterval(
      () => void this.rotateIfDue().catch((e: Error) => this.logger.warn(`scheduled key rotation failed: ${e.message}`)),
      ROTATION_CHECK_MS,
    );
    this.timer.unref();
  }

  onModuleDestroy(): void {
    clearInterval(this.timer);
  }

  /** The key new tokens are signed with. */
  signingKey(): ActiveKey {
    if (!this.active) throw new Error('signing keys not loaded');
    return this.active;
  }

  /**
   * Retired keys of the current algorithm that are still published, newest first: never for signing, only for a
   * verifier that needs the private half too (oidc-provider's keystore takes only private keys, and checks
   * `id_token_hint` with it: docs/openid-provider.md "Keys").
   */
  retiredSigningKeys(): ActiveKey[] {
    return this.retired;
  }

  verificationKey(kid: string): VerificationKey | undefined {
    return this.verification.get(kid);
  }

  /** Public keys for /.well-known/jwks.json (RFC 7517), including retired keys whose tokens may still be alive. */
  jwks(): { keys: JWK[] } {
    return { keys: [...this.verification.values()].map((k) => k.jwk) };
  }

  /** Reads the keys from the database: the current signing key for JWT_ALG and every key still published. */
  async reload(): Promise<void> {
    const now = this.clock.now();
    const rows = await this.repository.all();
    const verification = new Map<string, VerificationKey>();
    let active: ActiveKey | undefined;
    const retired: ActiveKey[] = [];
    for (const row of rows) {
      if (row.expiresAt !== null && row.expiresAt <= now) continue;
      const alg = row.alg as JwtAlg;
      const publicKey = createPublicKey({ key: row.publicJwk as JWK & { kty: string }, format: 'jwk' });
      verification.set(row.kid, { kid: row.kid, alg, publicKey, jwk: { ...row.publicJwk, kid: row.kid, alg, use: 'sig' } });
      if (row.retiredAt !== null && alg === this.config.jwt.alg) {
        const pem = unseal(this.sealingKey, row.privateKeySealed, row.kid);
        if (pem !== undefined) retired.push({ kid: row.kid, alg, privateKey: createPrivateKey(pem) });
      }
      if (!active && row.retiredAt === null && alg === this.config.jwt.alg) {
        const pem = unseal(this.sealingKey, row.privateKeySealed, row.kid);
        if (pem === undefined) {
          // A key sealed under another APP_SECRET: publish it for verification, but never sign with it.
          this.logger.error(`signing key ${row.kid} cannot be decrypted with this APP_SECRET; it is not used for signing`);
          continue;
        }
        active = { kid: row.kid, alg, privateKey: createPrivateKey(pem) };
        this.activeCreatedAt = row.createdAt;
      }
    }
    this.verification = verification;
    this.active = active;
    this.retired = retired;
  }

  /** Rotates when the signing key is older than KEY_ROTATION_DAYS. Every instance checks; one wins (see rotate). */
  async rotateIfDue(): Promise<boolean> {
    await this.purgeExpired();
    if (this.clock.now() - this.activeCreatedAt < this.config.keyRotationDays * DAY_MS) return false;
    return this.rotate();
  }

  /**
   * Retires the current signing key(s) and creates a new one, in one transaction. The retire is conditional on the
   * key still being current, so of several instances rotating at once exactly one does. A retired key stays in the
   * JWKS until every token it signed has expired, so no token breaks; other instances reload through the feed.
   */
  async rotate(): Promise<boolean> {
    const now = this.clock.now();
    const created = await this.database.transaction(async () => {
      const current = this.active?.kid;
      const retire = { retiredAt: now, expiresAt: now + (this.config.jwt.accessTokenTtl + RETIRED_KEY_MARGIN_S) * 1000 };
      if (current && (await this.repository.retire(current, retire)) !== 1) return false;
      // Keys of another algorithm (JWT_ALG changed) are retired too.
      await this.repository.retire(undefined, retire);
      await this.repository.insert(await this.newKey(now));
      // Other instances reload their keys when they read this from the revocation feed.
      await this.revocationFeed.insert({ kind: 'keys', subject: null, notBefore: null, at: now, expiresAt: now + DAY_MS });
      return true;
    });
    await this.reload();
    return created;
  }

  private async newKey(now: number): Promise<SigningKey> {
    const alg = this.config.jwt.alg;
    const { privateKey, publicKey } = generate(alg);
    const publicJwk = publicKey.export({ format: 'jwk' }) as JWK;
    // RFC 7638 thumbprint as kid: stable, unique per key, and reveals nothing.
    const kid = await calculateJwkThumbprint(publicJwk);
    const pem = privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
    this.logger.log(`created ${alg} signing key ${kid}`);
    return {
      kid,
      alg,
      publicJwk: publicJwk as JsonObject,
      privateKeySealed: seal(this.sealingKey, pem, kid),
      createdAt: now,
      retiredAt: null,
      expiresAt: null,
    };
  }

  private async purgeExpired(): Promise<void> {
    const now = this.clock.now();
    await this.repository.deleteExpired(now);
  }
}
