import { createRemoteJWKSet, decodeProtectedHeader, errors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { DomainError } from '../../common/domain-error.js';

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

  constructor(private readonly options: IdTokenVerifierOptions) {
    // jose's own refetch on an unknown kid is turned off (its cooldown lasts as long as the cache): `key` decides.
    this.jwks = createRemoteJWKSet(new URL(options.jwksUrl), {
      timeoutDuration: options.timeoutMs,
      cacheMaxAge: JWKS_MAX_AGE_MS,
      cooldownDuration: JWKS_MAX_AGE_MS,
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

  /** The verified claims; `sub` is only known to be present: providerProfile decides whether it is usable. */
  async verify(idToken: unknown, nonce: string): Promise<JWTPayload> {
    if (typeof idToken !== 'string') throw refused('the token response has no id_token');
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(idToken, this.key, {
        issuer: this.options.issuers,
        audience: this.options.clientId,
        algorithms: this.algorithms,
        requiredClaims: ['iss', 'sub', 'aud', 'exp', 'iat'],
        // §3.1.3.7 items 9–10: reject expired tokens and ones issued too far from now; 60 s of clock difference.
        clockTolerance: 60,
        maxTokenAge: '10 minutes',
      }));
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
