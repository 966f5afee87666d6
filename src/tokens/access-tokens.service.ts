import { Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { Clock } from '../common/clock.js';
import { DomainError } from '../common/domain-error.js';
import type { JwtAlg } from '../config/config.js';
import { InjectConfig } from '../config/config.module.js';
import type { ResolvedConfig } from '../config/app-secret.js';
import { decodeJws, parseJsonObject, signJwtOffThread, verifySignature } from './jwt.js';
import { RevocationsService } from './revocations.service.js';
import { SigningKeysService } from './signing-keys.service.js';

/**
 * RFC 9068 §2.2 claims of our access tokens. A person's token carries `sid` (the session); an API client's token
 * (client-credentials grant) carries `client_id` equal to `sub` and its granted `scope`, and no session.
 */
export interface AccessTokenClaims {
  iss: string;
  aud: string;
  sub: string;
  iat: number;
  nbf: number;
  exp: number;
  jti: string;
  sid?: string;
  client_id?: string;
  scope?: string;
  roles: string[];
}

/** A person's session or an API client: whom a token is issued to. */
export type TokenSubject = { userId: string; sessionId: string; roles: string[] } | { clientId: string; roles: string[]; scopes: string[] };

/** RFC 9068 §2.1: the media type that tells an access token apart from an ID token or any other JWT. */
export const ACCESS_TOKEN_TYP = 'at+jwt';
/** Allowed clock difference between instances, in seconds (RFC 7519 §4.1.4 "some small leeway"). */
const LEEWAY_S = 30;

const invalid = (why: string) => new DomainError('invalid_token', why);
/** Verified tokens remembered (FIFO), so a client that repeats its token pays one map look-up, not a signature check. */
const CACHE_SIZE = 10_000;

@Injectable()
export class AccessTokensService {
  private readonly verified = new Map<string, AccessTokenClaims>();

  constructor(
    private readonly keys: SigningKeysService,
    private readonly revocations: RevocationsService,
    @InjectConfig() private readonly config: ResolvedConfig,
    private readonly clock: Clock,
  ) {}

  async issue(subject: TokenSubject): Promise<{ token: string; expiresIn: number }> {
    const key = this.keys.signingKey();
    const sub = 'clientId' in subject ? subject.clientId : subject.userId;
    const now = Math.floor(this.clock.now() / 1000);
    const iat = this.revocations.issuedAtFor(sub);
    const expiresIn = this.config.jwt.accessTokenTtl;
    const claims: AccessTokenClaims = {
      iss: this.config.publicUrl,
      aud: this.config.jwt.audience,
      sub,
      iat,
      // nbf stays the real time: verifiers refuse a future nbf, while a future iat is only compared with max ages.
      nbf: now,
      exp: now + expiresIn,
      jti: randomUUID(),
      ...('clientId' in subject
        ? { client_id: subject.clientId, ...(subject.scopes.length ? { scope: subject.scopes.join(' ') } : {}) }
        : { sid: subject.sessionId }),
      roles: subject.roles,
    };
    return { token: await signJwtOffThread({ alg: key.alg, kid: key.kid, typ: ACCESS_TOKEN_TYP }, claims, key.privateKey), expiresIn };
  }

  /**
   * Verifies one of our access tokens. The key is chosen by `kid` among our own keys only, and its algorithm is the
   * one that key was made for: the token's `alg` must match it (RFC 8725 §2.1, §3.1). `jku`, `x5u` and `jwk` headers
   * are never read (SECURITY.md J4).
   */
  verify(token: string): AccessTokenClaims {
    const cached = this.verified.get(token);
    if (cached) {
      if (cached.exp > this.clock.now() / 1000 - LEEWAY_S) return cached;
      this.verified.delete(token);
    }
    const claims = this.verifyUncached(token);
    if (this.verified.size >= CACHE_SIZE) this.verified.delete(this.verified.keys().next().value!);
    this.verified.set(token, claims);
    return claims;
  }

  private verifyUncached(token: string): AccessTokenClaims {
    const jws = decodeJws(token);
    if (!jws) throw invalid('malformed token');
    const { alg, kid, typ } = jws.header;
    if (typ !== ACCESS_TOKEN_TYP) throw invalid('not an access token');
    if (typeof kid !== 'string') throw invalid('unknown key');
    const key = this.keys.verificationKey(kid);
    if (!key) throw invalid('unknown key');
    if (alg !== key.alg) throw invalid('unexpected algorithm');
    if (!verifySignature(alg as JwtAlg, jws, key.publicKey)) throw invalid('bad signature');
    const claims = parseJsonObject(jws.payloadSegment);
    if (!claims) throw invalid('malformed claims');
    const now = this.clock.now() / 1000;
    if (claims.iss !== this.config.publicUrl) throw invalid('wrong issuer');
    const aud = claims.aud;
    if (!(aud === this.config.jwt.audience || (Array.isArray(aud) && aud.includes(this.config.jwt.audience)))) {
      throw invalid('wrong audience');
    }
    if (typeof claims.exp !== 'number' || claims.exp <= now - LEEWAY_S) throw invalid('expired');
    if (typeof claims.nbf === 'number' && claims.nbf > now + LEEWAY_S) throw invalid('not yet valid');
    const person = typeof claims.sid === 'string';
    const client = typeof claims.client_id === 'string' && claims.client_id === claims.sub;
    if (typeof claims.sub !== 'string' || person === client || !Array.isArray(claims.roles)) throw invalid('missing claims');
    return claims as unknown as AccessTokenClaims;
  }
}
