import { createRemoteJWKSet, errors, jwtVerify, type JWTPayload } from 'jose';
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

const refused = (why: string, cause?: unknown) =>
  new DomainError('invalid_id_token', `the provider's ID token was refused: ${why}`, { cause });

/**
 * Verifies a provider's ID token as OIDC Core §3.1.3.7 requires. passport-openidconnect only base64-decodes it, so
 * this is the check that matters: signature against the issuer's JWKS (checklist I1), iss/aud/azp (I2), exp/iat (I3)
 * and the nonce of this very attempt (F3).
 */
export class IdTokenVerifier {
  private readonly jwks: ReturnType<typeof createRemoteJWKSet>;
  private readonly algorithms: string[];

  constructor(private readonly options: IdTokenVerifierOptions) {
    this.jwks = createRemoteJWKSet(new URL(options.jwksUrl), { timeoutDuration: options.timeoutMs, cooldownDuration: 30_000 });
    this.algorithms = options.algorithms.filter((a) => ASYMMETRIC_ALGS.includes(a));
    if (this.algorithms.length === 0) this.algorithms = ['RS256'];
  }

  /** The verified claims; `sub` is only known to be present: providerProfile decides whether it is usable. */
  async verify(idToken: unknown, nonce: string): Promise<JWTPayload> {
    if (typeof idToken !== 'string') throw refused('the token response has no id_token');
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(idToken, this.jwks, {
        issuer: this.options.issuers,
        audience: this.options.clientId,
        algorithms: this.algorithms,
        requiredClaims: ['iss', 'sub', 'aud', 'exp', 'iat'],
        // §3.1.3.7 items 9–10: reject expired tokens and ones issued too far from now; 60 s of clock difference.
        clockTolerance: 60,
        maxTokenAge: '10 minutes',
      }));
    } catch (e) {
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
