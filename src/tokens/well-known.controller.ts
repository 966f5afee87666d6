import { Controller, Get, Header, Inject, Optional } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { Public } from '../http/public.decorator.js';
import { InjectConfig } from '../config/config.module.js';
import type { ResolvedConfig } from '../config/app-secret.js';
import { SigningKeysService } from './signing-keys.service.js';

/**
 * More metadata for the discovery document, from a feature that serves more endpoints (the OpenID Provider, issue 17).
 * Its values win over the defaults here: one document, one issuer.
 */
export const DISCOVERY_METADATA = Symbol('DISCOVERY_METADATA');
export type DiscoveryMetadata = () => Record<string, unknown>;

/** What apps need to verify our tokens offline (RFC 8414 metadata, RFC 7517 JWKS). */
@ApiTags('for apps')
@Public()
@Controller('.well-known')
export class WellKnownController {
  constructor(
    private readonly keys: SigningKeysService,
    @InjectConfig() private readonly config: ResolvedConfig,
    @Optional() @Inject(DISCOVERY_METADATA) private readonly more?: DiscoveryMetadata,
  ) {}

  /** OpenID Connect Discovery 1.0 §4, and the same document as RFC 8414 §3 authorization server metadata. */
  @Get(['openid-configuration', 'oauth-authorization-server'])
  @Header('Cache-Control', 'public, max-age=300')
  @Header('Content-Type', 'application/json; charset=utf-8')
  configuration(): string {
    // Made from the configuration alone, so serialized once: the same bytes at every request, without rebuilding and
    // stringifying ~2 kB each time (the route apps poll most after the token endpoint).
    this.document ??= JSON.stringify(this.metadata());
    return this.document;
  }

  private document?: string;

  private metadata(): Record<string, unknown> {
    const base = this.config.publicUrl;
    return {
      issuer: base,
      jwks_uri: `${base}/.well-known/jwks.json`,
      token_endpoint: `${base}/auth/token`,
      userinfo_endpoint: `${base}/me`,
      // Not standard metadata: the feed of revoked sessions and subjects for apps that verify tokens offline.
      revocation_feed_endpoint: `${base}/auth/revocations`,
      grant_types_supported: ['authorization_code', 'refresh_token', 'client_credentials'],
      // `none` for the public code and refresh grants (PKCE); the two secret methods for API clients (RFC 6749 §2.3.1).
      token_endpoint_auth_methods_supported: ['none', 'client_secret_basic', 'client_secret_post'],
      code_challenge_methods_supported: ['S256'],
      response_types_supported: ['code'],
      subject_types_supported: ['public'],
      id_token_signing_alg_values_supported: [this.config.jwt.alg],
      access_token_signing_alg_values_supported: [this.config.jwt.alg],
      ...this.more?.(),
    };
  }

  /** Short cache: a rotated key must reach verifiers well before tokens signed with it arrive. */
  @Get('jwks.json')
  @Header('Cache-Control', 'public, max-age=300')
  @Header('Content-Type', 'application/jwk-set+json')
  jwks() {
    return this.keys.jwks();
  }
}
