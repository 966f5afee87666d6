import { constants, KeyObject, verify as cryptoVerify, type webcrypto } from 'node:crypto';
import { types } from 'node:util';
import {
  createRemoteJWKSet,
  customFetch,
  decodeProtectedHeader,
  errors,
  jwtVerify,
  UnsecuredJWT,
  type JWTPayload,
  type JWTVerifyGetKey,
  type JWTVerifyOptions,
} from 'jose';
import { DomainError } from '../../common/domain-error.js';
import { boundedFetch } from './bounded-fetch.js';

/** Asymmetric algorithms only: `none` and HMAC (keyed with a public value) are never accepted (RFC 8725 §3.1). */
export const ASYMMETRIC_ALGS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519'];

export interface IdTokenVerifierOptions {
  issuers: string[];
  clientId: string;
  jwksUrl: string;
  /** The provider's advertised algorithms, intersected with ASYMMETRIC_ALGS. */
  algorithms: string[];
  timeoutMs: number;
}

/** How long a fetched JWKS is used before it is fetched again anyway (jose's default). */
const JWKS_MAX_AGE_MS = 10 * 60_000;

/**
 * At most one refetch of a provider's JWKS for an unknown `kid` in this many milliseconds. OIDC Core §10.1.1: a signer
 * rotates by signing with a new key, and the verifier "knows to go back to the jwks_uri location to re-retrieve the
 * keys when it sees an unfamiliar kid value" — at once, since a provider may drop the old key from its JWKS as it
 * starts using the new one (jose alone would wait out a 30 s cooldown after any fetch, and sign-ins would fail until
 * then). But the `kid` is whatever the token's producer wrote: without a limit a broken or hostile provider, or whoever
 * sits on the path to its token endpoint, could turn every sign-in into one more request to the provider's JWKS
 * endpoint, from every instance. 5 s keeps that to a trickle and is far shorter than any real rotation's lead.
 */
export const UNKNOWN_KID_REFETCH_MS = 5_000;

/**
 * node:crypto's parameters for each algorithm, and the Web Crypto key jose imports for it (its `jwks/local` picks and
 * imports the JWK for the token's `alg`, so a key of another kind, curve or hash is not expected; see `fastVerify`).
 */
type NodeVerify = {
  digest: string | null;
  key: (k: KeyObject) => Parameters<typeof cryptoVerify>[2];
  name: string;
  hash?: string;
  curve?: string;
};
const rsa = (bits: number): NodeVerify => ({ digest: `sha${bits}`, key: (k) => k, name: 'RSASSA-PKCS1-v1_5', hash: `SHA-${bits}` });
// RFC 7518 §3.5: the salt is as long as the hash.
const pss = (bits: number): NodeVerify => ({
  digest: `sha${bits}`,
  key: (k) => ({ key: k, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: bits / 8 }),
  name: 'RSA-PSS',
  hash: `SHA-${bits}`,
});
// RFC 7518 §3.4: r||s, not DER.
const ec = (bits: number, curve: string): NodeVerify => ({
  digest: `sha${bits}`,
  key: (k) => ({ key: k, dsaEncoding: 'ieee-p1363' }),
  name: 'ECDSA',
  curve,
});
const NODE_VERIFY: Record<string, NodeVerify> = {
  RS256: rsa(256),
  RS384: rsa(384),
  RS512: rsa(512),
  PS256: pss(256),
  PS384: pss(384),
  PS512: pss(512),
  ES256: ec(256, 'P-256'),
  ES384: ec(384, 'P-384'),
  ES512: ec(512, 'P-521'),
  EdDSA: { digest: null, key: (k) => k, name: 'Ed25519' },
  Ed25519: { digest: null, key: (k) => k, name: 'Ed25519' },
};
/** A compact JWS of base64url segments only (what jose also requires), so Buffer's lenient decoding sees nothing else. */
const COMPACT_JWS = /^([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)$/;
/** The header jose's UnsecuredJWT.decode reads the claims under; the signature was checked before (fastVerify). */
const NONE_HEADER = Buffer.from('{"alg":"none"}').toString('base64url');

const refused = (why: string, cause?: unknown) =>
  new DomainError('invalid_id_token', `the provider's ID token was refused: ${why}`, { cause });

/**
 * Verifies a provider's ID token as OIDC Core §3.1.3.7 requires. passport-openidconnect only base64-decodes it, so
 * this is the check that matters: signature against the issuer's JWKS (SECURITY.md I1), iss/aud/azp (I2), exp/iat (I3)
 * and the nonce of this very attempt (F3).
 */
export class IdTokenVerifier {
  private readonly jwks: ReturnType<typeof createRemoteJWKSet>;
  private readonly algorithms: string[];
  /** When this provider's JWKS was last refetched for an unknown kid. */
  private lastUnknownKidRefetch = -Infinity;
  /** node:crypto's key object for each Web Crypto key of the JWKS (jose keeps those cached per JWK and algorithm). */
  private readonly keyObjects = new WeakMap<webcrypto.CryptoKey, KeyObject>();

  constructor(private readonly options: IdTokenVerifierOptions) {
    // jose's own refetch on an unknown kid is turned off (its cooldown lasts as long as the cache): `key` decides.
    this.jwks = createRemoteJWKSet(new URL(options.jwksUrl), {
      timeoutDuration: options.timeoutMs,
      cacheMaxAge: JWKS_MAX_AGE_MS,
      cooldownDuration: JWKS_MAX_AGE_MS,
      // Read to at most a megabyte (bounded-fetch.ts).
      [customFetch]: boundedFetch(),
    });
    this.algorithms = options.algorithms.filter((a) => ASYMMETRIC_ALGS.includes(a));
    if (this.algorithms.length === 0) this.algorithms = ['RS256'];
  }

  /** The key for a token's header from the cached JWKS; an unknown kid refetches it at once, rate-limited. */
  private readonly key: JWTVerifyGetKey = async (header, token) => {
    try {
      return await this.jwks(header, token);
    } catch (e) {
      if (!(e instanceof errors.JWKSNoMatchingKey)) throw e;
      // Sign-ins that arrive while a refetch is under way wait for it (jose makes one fetch of concurrent reloads).
      if (!this.jwks.reloading) {
        const now = Date.now();
        if (now - this.lastUnknownKidRefetch < UNKNOWN_KID_REFETCH_MS) throw e;
        this.lastUnknownKidRefetch = now;
      }
      await this.jwks.reload();
      return this.jwks(header, token);
    }
  };

  /**
   * The verified claims; `sub` is only known to be present: providerProfile decides whether it is usable. `issuers`
   * replaces the configured ones for a provider whose issuer depends on the token (Microsoft's `{tenantid}`).
   */
  async verify(idToken: unknown, nonce: string, issuers: string[] = this.options.issuers): Promise<JWTPayload> {
    if (typeof idToken !== 'string') throw refused('the token response has no id_token');
    let payload: JWTPayload;
    const options: JWTVerifyOptions = {
      issuer: issuers,
      audience: this.options.clientId,
      algorithms: this.algorithms,
      requiredClaims: ['iss', 'sub', 'aud', 'exp', 'iat'],
      // §3.1.3.7 items 9–10: reject expired tokens and ones issued too far from now; 60 s of clock difference.
      clockTolerance: 60,
      maxTokenAge: '10 minutes',
    };
    try {
      payload = (await this.fastVerify(idToken, options)) ?? (await jwtVerify(idToken, this.key, options)).payload;
    } catch (e) {
      if (e instanceof errors.JOSEAlgNotAllowed) throw refused(algorithmAdvice(idToken), e);
      if (e instanceof errors.JOSEError && !(e instanceof errors.JWKSTimeout)) throw refused(e.code, e);
      throw new DomainError('provider_unavailable', 'could not fetch the provider’s signing keys', { cause: e });
    }
    // §3.1.3.7 item 3: no audience the client does not trust. We trust only ourselves, so aud must be just us.
    const aud = Array.isArray(payload.aud) ? payload.aud : [payload.aud];
    if (aud.some((a) => a !== this.options.clientId)) throw refused('it names other audiences');
    // Items 4–5: azp, when present, must be us.
    if (payload.azp !== undefined && payload.azp !== this.options.clientId) throw refused('azp is another client');
    if (payload.nonce !== nonce) throw refused('nonce does not match this sign-in');
    return payload;
  }

  /**
   * jose's jwtVerify, for the usual token, at a fraction of its CPU: the same key (`key`, from jose's cached JWKS), the
   * signature checked with node:crypto synchronously instead of Web Crypto behind several awaits, and the claims
   * checked by jose itself (UnsecuredJWT.decode runs the very validateClaimsSet jwtVerify runs, with the same options).
   * jose's verification cost more than half an RS256 signature per sign-in (issue 20). Anything out of the ordinary —
   * an algorithm not allowed or unknown here, a `crit` header, a key that is not the expected kind, an RSA key under
   * 2048 bits — returns undefined, and jwtVerify decides (and refuses) exactly as before. Failures here are jose's
   * own errors, so `verify` reports them as before.
   */
  private async fastVerify(idToken: string, options: JWTVerifyOptions): Promise<JWTPayload | undefined> {
    const parts = COMPACT_JWS.exec(idToken);
    // A segment of length 1 mod 4 is not base64url: jose refuses it, Buffer would silently drop its last character
    // (so one signed token would have many spellings that all verify). jwtVerify decides those.
    if (!parts || parts.slice(1).some((segment) => segment.length % 4 === 1)) return undefined;
    let header: unknown;
    try {
      header = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
    } catch {
      return undefined;
    }
    if (header === null || typeof header !== 'object' || Array.isArray(header)) return undefined;
    const { alg, crit } = header as { alg?: unknown; crit?: unknown };
    if (typeof alg !== 'string' || !this.algorithms.includes(alg) || crit !== undefined || !Object.hasOwn(NODE_VERIFY, alg))
      return undefined;
    const params = NODE_VERIFY[alg];
    const key = await this.key(header as Parameters<JWTVerifyGetKey>[0], { protected: parts[1], payload: parts[2], signature: parts[3] });
    const keyObject = this.keyObjectFor(key, params);
    if (!keyObject) return undefined;
    let valid = false;
    try {
      valid = cryptoVerify(
        params.digest,
        Buffer.from(`${parts[1]}.${parts[2]}`),
        params.key(keyObject),
        Buffer.from(parts[3], 'base64url'),
      );
    } catch (cause) {
      throw new errors.JWSSignatureVerificationFailed(undefined, { cause });
    }
    if (!valid) throw new errors.JWSSignatureVerificationFailed();
    return UnsecuredJWT.decode(`${NONE_HEADER}.${parts[2]}.`, options).payload;
  }

  /** The key as node:crypto's, when it is a public Web Crypto key made for verifying with exactly this algorithm. */
  private keyObjectFor(key: unknown, params: NodeVerify): KeyObject | undefined {
    if (!types.isCryptoKey(key) || key.type !== 'public' || !key.usages.includes('verify')) return undefined;
    const algorithm = key.algorithm as { name: string; hash?: { name: string }; namedCurve?: string; modulusLength?: number };
    if (algorithm.name !== params.name) return undefined;
    if (params.hash && algorithm.hash?.name !== params.hash) return undefined;
    if (params.curve && algorithm.namedCurve !== params.curve) return undefined;
    // RFC 7518 §3.3, §3.5: jose refuses smaller RSA keys; it does so on the jwtVerify path.
    if (params.hash && !(typeof algorithm.modulusLength === 'number' && algorithm.modulusLength >= 2048)) return undefined;
    let keyObject = this.keyObjects.get(key);
    if (!keyObject) this.keyObjects.set(key, (keyObject = KeyObject.from(key)));
    return keyObject;
  }
}

/**
 * Why an algorithm is refused, for the admin reading the error. HS256/HS384/HS512 (the default for new clients at some
 * providers) sign with the client secret: whoever knows it, this service's configuration included, could mint ID tokens
 * for anyone, and accepting HMAC beside public keys invites algorithm confusion (RFC 8725 §2.1, §3.1).
 */
function algorithmAdvice(idToken: string): string {
  let alg = 'an algorithm that is not accepted';
  try {
    alg = String(decodeProtectedHeader(idToken).alg);
  } catch {
    // The header was readable for jose, so this is not reached; the general wording stands otherwise.
  }
  const shared = /^HS\d+$/.test(alg) ? ' (a shared secret, the client secret)' : '';
  return `it is signed with ${alg}${shared}; set the provider to sign this client's ID tokens with RS256 or ES256`;
}
