import { Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { calculateJwkThumbprint, type JWK } from 'jose';
import type { Repository } from 'typeorm';
import { Clock } from '../common/clock.js';
import { deriveKey, seal, unseal } from '../common/crypto.js';
import type { JwtAlg } from '../config/config.js';
import { InjectConfig } from '../config/config.module.js';
import type { ResolvedConfig } from '../config/app-secret.js';
import type { JsonObject } from '../database/columns.js';
import { SigningKey } from './signing-key.entity.js';

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
export class SigningKeysService implements OnModuleInit {
  private readonly logger = new Logger(SigningKeysService.name);
  private readonly sealingKey: Buffer;
  private active?: ActiveKey;
  private verification = new Map<string, VerificationKey>();

  constructor(
    @InjectRepository(SigningKey) private readonly keys: Repository<SigningKey>,
    @InjectConfig() private readonly config: ResolvedConfig,
    private readonly clock: Clock,
  ) {
    this.sealingKey = deriveKey(config.appSecret, 'signing-keys');
  }

  async onModuleInit(): Promise<void> {
    await this.reload();
    if (!this.active) {
      await this.createKey();
      await this.reload();
    }
  }

  /** The key new tokens are signed with. */
  signingKey(): ActiveKey {
    if (!this.active) throw new Error('signing keys not loaded');
    return this.active;
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
    const rows = await this.keys.find({ order: { createdAt: 'DESC' } });
    const verification = new Map<string, VerificationKey>();
    let active: ActiveKey | undefined;
    for (const row of rows) {
      if (row.expiresAt !== null && row.expiresAt <= now) continue;
      const alg = row.alg as JwtAlg;
      const publicKey = createPublicKey({ key: row.publicJwk as JWK & { kty: string }, format: 'jwk' });
      verification.set(row.kid, { kid: row.kid, alg, publicKey, jwk: { ...row.publicJwk, kid: row.kid, alg, use: 'sig' } });
      if (!active && row.retiredAt === null && alg === this.config.jwt.alg) {
        const pem = unseal(this.sealingKey, row.privateKeySealed, row.kid);
        if (pem === undefined) {
          // A key sealed under another APP_SECRET: publish it for verification, but never sign with it.
          this.logger.error(`signing key ${row.kid} cannot be decrypted with this APP_SECRET; it is not used for signing`);
          continue;
        }
        active = { kid: row.kid, alg, privateKey: createPrivateKey(pem) };
      }
    }
    this.verification = verification;
    this.active = active;
  }

  private async createKey(): Promise<void> {
    const alg = this.config.jwt.alg;
    const { privateKey, publicKey } = generate(alg);
    const publicJwk = publicKey.export({ format: 'jwk' }) as JWK;
    // RFC 7638 thumbprint as kid: stable, unique per key, and reveals nothing.
    const kid = await calculateJwkThumbprint(publicJwk);
    const pem = privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
    await this.keys.insert({
      kid,
      alg,
      publicJwk: publicJwk as JsonObject,
      privateKeySealed: seal(this.sealingKey, pem, kid),
      createdAt: this.clock.now(),
      retiredAt: null,
      expiresAt: null,
    });
    this.logger.log(`created ${alg} signing key ${kid}`);
  }
}
