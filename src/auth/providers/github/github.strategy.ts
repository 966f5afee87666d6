import type { Request } from 'express';
import type { GithubProviderConfig } from '../../../config/config.js';
import type { LoginStateStore } from '../../login-state.store.js';
import type { ProviderProfile } from '../../../accounts/provider-profile.js';
import { failedStatus, PlainOAuth2Strategy } from '../plain-oauth2.strategy.js';
import { githubProfile } from './github.profile.js';

/** GitHub's REST API media type and version (docs.github.com, "API Versions"). */
const API_HEADERS = { Accept: 'application/vnd.github+json', 'X-GitHub-Api-Version': '2022-11-28' };

/**
 * GitHub (OAuth 2.0, not OpenID Connect: no ID token) on passport-oauth2, not passport-github2: that one (0.1.12,
 * unchanged since 2020) keeps the primary email without its `verified` flag and parses the emails answer without a
 * try, in node-oauth's response handler, where a throw ends the process. PKCE S256 (GitHub supports it since 2025),
 * state in our sealed cookie, the token in the Authorization header only (GitHub refuses it in a query string), the
 * client secret in the token request's form as GitHub documents. Built once at start-up by GithubModule, only when
 * GitHub is enabled.
 */
export class GithubStrategy extends PlainOAuth2Strategy {
  private readonly userUrl: string;
  private readonly emailsUrl: string;

  constructor(cfg: GithubProviderConfig, callbackURL: string, loginState: LoginStateStore, timeoutMs: number) {
    super(
      {
        id: cfg.id,
        strategyBase: cfg.id,
        clientId: cfg.clientId,
        clientSecret: cfg.clientSecret,
        authorizationUrl: cfg.authorizationUrl,
        tokenUrl: cfg.tokenUrl,
        // read:user for the profile, user:email for the private addresses and their verified flags.
        scopes: ['read:user', 'user:email'],
        pkce: true,
        tokenAuthMethod: 'client_secret_post',
      },
      callbackURL,
      loginState,
      timeoutMs,
    );
    this.userUrl = cfg.userUrl;
    this.emailsUrl = cfg.emailsUrl;
  }

  protected async profileJson(accessToken: string): Promise<{ user: unknown; emails: unknown }> {
    const user = await this.getJson(this.userUrl, accessToken, API_HEADERS, 'the GitHub user');
    const emails = await this.getJson(this.emailsUrl, accessToken, API_HEADERS, 'the GitHub user’s emails').catch((e: unknown) => {
      // A GitHub App's token without the "Email addresses" permission: 403 (404 on some Enterprise versions).
      const status = failedStatus(e);
      if (status === 403 || status === 404) return undefined;
      throw e;
    });
    return { user, emails };
  }

  /** Only the mapping (see githubProfile); a failure is the sign-in's error (PassportStrategy calls done once). */
  validate(_req: Request, _accessToken: string, _refreshToken: string, profile: { user: unknown; emails: unknown }): ProviderProfile {
    return githubProfile(profile.user, profile.emails);
  }
}
