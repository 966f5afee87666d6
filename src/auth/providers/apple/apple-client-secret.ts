import { createPrivateKey, type KeyObject } from 'node:crypto';
import { SignJWT } from 'jose';
import type { Clock } from '../../../common/clock.js';
import type { AppleProviderConfig } from '../../../config/config.js';

/** Apple refuses a client secret whose `exp` is more than 15,777,000 s (six months) after its `iat`. */
export const APPLE_SECRET_MAX_LIFETIME_S = 15_777_000;
/**
 * Ours live a day: far inside Apple's limit, and a secret that leaked (a log of a proxy in between) is useless soon.
 * Signing one costs well under a millisecond, so nothing is gained by making them last months.
 */
export const APPLE_SECRET_LIFETIME_S = 24 * 3600;
/** A cached secret is replaced this long before its `exp`, so none is sent that could expire on the way. */
export const APPLE_SECRET_RENEW_BEFORE_S = 3600;

/**
 * Sign in with Apple's client secret: not a static string but an ES256 JWT the client signs with the key Apple issued
 * to its team (Apple, "Creating a client secret"): header `alg: ES256`, `kid` the key id; claims `iss` the team id,
 * `iat`, `exp` (at most six months later), `aud` https://appleid.apple.com, `sub` the Services ID. One is made on first
 * use, kept, and renewed an hour before it expires.
 */
export class AppleClientSecret {
  private readonly key: KeyObject;
  private cached?: { jwt: string; exp: number };

  constructor(
    private readonly cfg: Pick<AppleProviderConfig, 'teamId' | 'keyId' | 'clientId' | 'privateKey' | 'issuer'>,
    private readonly clock: Clock,
  ) {
    this.key = createPrivateKey(cfg.privateKey);
  }

  /** The current secret, signed anew when none is cached or the cached one is within an hour of its expiry. */
  async current(): Promise<string> {
    const now = Math.floor(this.clock.now() / 1000);
    if (this.cached && this.cached.exp - APPLE_SECRET_RENEW_BEFORE_S > now) return this.cached.jwt;
    const exp = now + APPLE_SECRET_LIFETIME_S;
    const jwt = await new SignJWT({})
      .setProtectedHeader({ alg: 'ES256', kid: this.cfg.keyId })
      .setIssuer(this.cfg.teamId)
      .setSubject(this.cfg.clientId)
      .setAudience(this.cfg.issuer)
      .setIssuedAt(now)
      .setExpirationTime(exp)
      .sign(this.key);
    this.cached = { jwt, exp };
    return jwt;
  }
}
