import { createRemoteJWKSet, errors, jwtVerify, type JWTPayload } from 'jose';
import { AccessTokenError } from './errors.js';
import { RevocationFeed } from './revocation-feed.js';

export interface ConsumerOptions {
  /** The service's URL (its PUBLIC_URL): the `iss` of its tokens and where discovery starts. */
  issuer: string;
  /** The `aud` your API accepts (the service's JWT_AUDIENCE, by default its PUBLIC_URL). */
  audience: string;
  /** Allowed clock difference for `exp`, `nbf` and `iat`, in seconds. Default 5. */
  clockTolerance?: number;
  /** A token naming an unknown `kid` refetches the JWKS at most once per this many ms. Default 30 000. */
  jwksCooldownMs?: number;
  /** Honour revoked sessions and disabled users within the service's own bound (polls its revocation feed). */
  revocations?: boolean | { pollIntervalMs?: number };
}

/** The claims of a verified access token (RFC 9068 plus the service's `sid`, `roles`, and for API clients `client_id`, `scope`). */
export interface AccessTokenClaims extends JWTPayload {
  iss: string;
  sub: string;
  exp: number;
  iat: number;
  roles: string[];
  sid?: string;
  client_id?: string;
  scope?: string;
}

interface Ready {
  jwks: ReturnType<typeof createRemoteJWKSet>;
  feed?: RevocationFeed;
}

const CACHE_SIZE = 10_000;
const invalid = (description: string, cause?: unknown) => new AccessTokenError('invalid_token', description, { cause });

/**
 * Verifies the service's access tokens. Metadata comes from `<issuer>/.well-known/openid-configuration` (its
 * `issuer` must be the configured one, RFC 8414 §3.3); keys from its `jwks_uri`. Only the algorithms the JWKS
 * announces are accepted (RFC 8725 §3.1), so `none`, HS256-with-a-public-key and the like never verify.
 */
export class AccessTokenVerifier {
  private ready?: Promise<Ready>;
  private readonly verified = new Map<string, AccessTokenClaims>();
  private readonly tolerance: number;

  constructor(readonly options: ConsumerOptions) {
    this.tolerance = options.clockTolerance ?? 5;
  }

  async verify(token: string): Promise<AccessTokenClaims> {
    const { jwks, feed } = await this.start();
    let claims = this.verified.get(token);
    if (!claims || claims.exp <= Date.now() / 1000 - this.tolerance) {
      this.verified.delete(token);
      claims = await this.verifyJwt(token, jwks);
      if (this.verified.size >= CACHE_SIZE) this.verified.delete(this.verified.keys().next().value!);
      this.verified.set(token, claims);
    }
    if (feed?.isRevoked(claims)) throw invalid('the session has ended');
    return claims;
  }

  /** Discovery, the first JWKS fetch and the first revocation read; retried on the next request if they fail. */
  start(): Promise<Ready> {
    this.ready ??= this.discover().catch((e: unknown) => {
      this.ready = undefined;
      throw new AccessTokenError('temporarily_unavailable', 'the token issuer cannot be reached', { cause: e });
    });
    return this.ready;
  }

  close(): void {
    void this.ready?.then(
      (r) => r.feed?.stop(),
      () => undefined,
    );
  }

  /** NestJS calls this on shutdown. */
  onModuleDestroy(): void {
    this.close();
  }

  private async discover(): Promise<Ready> {
    const issuer = this.options.issuer.replace(/\/+$/, '');
    const res = await fetch(`${issuer}/.well-known/openid-configuration`, { signal: AbortSignal.timeout(5000) });
    if (!res.ok) throw new Error(`discovery answered ${res.status}`);
    const meta = (await res.json()) as { issuer?: string; jwks_uri?: string; revocation_feed_endpoint?: string };
    if (meta.issuer !== this.options.issuer) throw new Error(`discovery names the issuer ${meta.issuer}, not ${this.options.issuer}`);
    if (!meta.jwks_uri) throw new Error('discovery has no jwks_uri');
    const jwks = createRemoteJWKSet(new URL(meta.jwks_uri), {
      cooldownDuration: this.options.jwksCooldownMs ?? 30_000,
      timeoutDuration: 5000,
    });
    await jwks.reload();
    let feed: RevocationFeed | undefined;
    if (this.options.revocations) {
      if (!meta.revocation_feed_endpoint) throw new Error('the issuer publishes no revocation_feed_endpoint');
      const pollIntervalMs = typeof this.options.revocations === 'object' ? this.options.revocations.pollIntervalMs : undefined;
      feed = new RevocationFeed(meta.revocation_feed_endpoint, pollIntervalMs);
      await feed.start();
    }
    return { jwks, feed };
  }

  private async verifyJwt(token: string, jwks: Ready['jwks'], retried = false): Promise<AccessTokenClaims> {
    // Pinned to what the JWKS announces now; a key with a new algorithm is learnt by the refetch below.
    const algorithms = [...new Set((jwks.jwks()?.keys ?? []).map((k) => k.alg).filter((a): a is string => typeof a === 'string'))];
    try {
      const { payload } = await jwtVerify(token, jwks, {
        issuer: this.options.issuer,
        audience: this.options.audience,
        typ: 'at+jwt',
        algorithms,
        clockTolerance: this.tolerance,
        requiredClaims: ['sub', 'exp', 'iat'],
      });
      if (!Array.isArray(payload.roles) || !payload.roles.every((r) => typeof r === 'string')) throw invalid('the token has no roles');
      return payload as AccessTokenClaims;
    } catch (e) {
      if (e instanceof AccessTokenError) throw e;
      if (e instanceof errors.JOSEAlgNotAllowed && !retried && !jwks.coolingDown) {
        await jwks.reload().catch(() => undefined);
        return this.verifyJwt(token, jwks, true);
      }
      if (e instanceof errors.JWKSTimeout || (e instanceof TypeError && /fetch/i.test(e.message))) {
        throw new AccessTokenError('temporarily_unavailable', 'the token issuer’s keys cannot be fetched', { cause: e });
      }
      throw invalid(describe(e), e);
    }
  }
}

function describe(e: unknown): string {
  if (e instanceof errors.JWTExpired) return 'the token has expired';
  if (e instanceof errors.JWTClaimValidationFailed) return `the token's ${e.claim} claim is not accepted`;
  if (e instanceof errors.JWKSNoMatchingKey) return 'the token names an unknown key';
  if (e instanceof errors.JWSSignatureVerificationFailed) return 'bad signature';
  if (e instanceof errors.JOSEAlgNotAllowed) return 'the token uses an algorithm the issuer does not announce';
  return 'malformed token';
}

export function createVerifier(options: ConsumerOptions): AccessTokenVerifier {
  return new AccessTokenVerifier(options);
}
