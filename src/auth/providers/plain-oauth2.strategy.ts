import { PassportStrategy } from '@nestjs/passport';
import type { Request } from 'express';
import {
  InternalOAuthError,
  Strategy as OAuth2Strategy,
  type StrategyOptionsWithRequest,
  type VerifyFunctionWithRequest,
} from 'passport-oauth2';
import type { TokenAuthMethod } from '../../config/config.js';
import type { LoginStateStore } from '../login-state.store.js';
import { hardenOAuth2Client, oauth2ClientOf, useClientSecretBasic, withTimeout } from './oauth2-client.js';
import { oauth2StateStore, restoringAttemptOnError } from './passport-state-stores.js';
import { callingDoneOnce, strategyName, type ProviderStrategy } from './provider-strategy.js';

/** GitHub's API refuses requests without a User-Agent (and so may others); this one names the service. */
const USER_AGENT = 'social-login-service';

/**
 * passport-oauth2 registered under `options.name` (see strategyName): PassportStrategy, given no name, registers a
 * strategy under its own.
 */
class NamedOAuth2Strategy extends OAuth2Strategy {
  constructor(options: StrategyOptionsWithRequest & { name: string }, verify: VerifyFunctionWithRequest) {
    super(options, callingDoneOnce(verify));
    this.name = options.name;
  }
}

/** What a plain OAuth 2.0 provider needs to be signed in with: its endpoints and how the client talks to them. */
export interface PlainOAuth2Options {
  /** The provider's id (`github`, an OAUTH_PROVIDERS id); the strategy's name is built from `strategyBase`. */
  id: string;
  strategyBase: string;
  clientId: string;
  clientSecret: string;
  authorizationUrl: string;
  tokenUrl: string;
  scopes: string[];
  pkce: boolean;
  tokenAuthMethod: TokenAuthMethod;
}

/** An error the provider's answer is, in the shape node-oauth reports an HTTP error (passport-oauth2 wraps it). */
const providerAnswer = (data: string, statusCode = 502) => ({ statusCode, data });

/**
 * What is wrong with a token response node-oauth accepted (HTTP 2xx, an object), or undefined when it can be used:
 * - an error in a 200 answer: GitHub answers a bad, expired or replayed code with HTTP 200 and `error`
 *   (`bad_verification_code`). Reported as the provider's error response (RFC 6749 §5.2), so it is a TokenError with
 *   the provider's code, audited, instead of a token request that "worked" without a token.
 * - no access token, or one that is not a string (node-oauth reads a repeated form field as a list): passport-oauth2
 *   would report that with a plain Error, which ends as server_error; it is the provider's fault (RFC 6749 §5.1).
 * - a token type other than Bearer: the client must not use a token whose type it does not understand (§7.1). A
 *   missing `token_type` is accepted: some providers (older Graph API versions) leave it out.
 */
export function tokenResponseProblem(accessToken: unknown, results: unknown): { statusCode: number; data: string } | undefined {
  const r = (results ?? {}) as Record<string, unknown>;
  if (typeof r.error === 'string') {
    return providerAnswer(JSON.stringify({ error: r.error, error_description: r.error_description }), 400);
  }
  if (typeof accessToken !== 'string' || accessToken === '') {
    return providerAnswer('the provider answered the token request without an access token');
  }
  if (r.token_type !== undefined && (typeof r.token_type !== 'string' || r.token_type.toLowerCase() !== 'bearer')) {
    return providerAnswer('the provider issued an access token of a type other than Bearer');
  }
  return undefined;
}

/**
 * A provider that speaks OAuth 2.0 only (no ID token): GitHub, and the generic OAUTH_PROVIDERS. passport-oauth2 with
 * state in our sealed cookie (SECURITY.md F1), PKCE S256 where the provider supports it (F2), the hardened node-oauth
 * client (tokens only in the Authorization header, F9; timeouts; bodies that are no JSON object refused), token
 * responses checked (tokenResponseProblem), and the client authenticated as the provider wants. Each kind fetches its
 * profile (`profileJson`) and maps it in `validate`; a failure there is the provider's error, never a crash.
 */
export abstract class PlainOAuth2Strategy extends PassportStrategy(NamedOAuth2Strategy, undefined, true) implements ProviderStrategy {
  readonly providerId: string;
  /** OAuth 2.0 providers do not name themselves in the response (no RFC 9207 `iss`): the state binds the provider (F5). */
  readonly issuerParamRequired = false;
  protected readonly timeoutMs: number;
  private readonly loginState: LoginStateStore;

  constructor(opts: PlainOAuth2Options, callbackURL: string, loginState: LoginStateStore, timeoutMs: number) {
    super({
      name: strategyName(opts.strategyBase),
      clientID: opts.clientId,
      clientSecret: opts.clientSecret,
      callbackURL,
      authorizationURL: opts.authorizationUrl,
      tokenURL: opts.tokenUrl,
      // RFC 6749 §3.3: space-delimited.
      scope: opts.scopes.length ? opts.scopes : undefined,
      scopeSeparator: ' ',
      // JSON token responses (GitHub answers form-encoded without it); every API call sets its own Accept.
      customHeaders: { 'User-Agent': USER_AGENT, Accept: 'application/json' },
      pkce: opts.pkce,
      state: true,
      store: oauth2StateStore(loginState, opts.id) as never,
      passReqToCallback: true,
    });
    this.providerId = opts.id;
    this.loginState = loginState;
    this.timeoutMs = timeoutMs;
    const client = oauth2ClientOf(this);
    hardenOAuth2Client(client, timeoutMs);
    // node-oauth posts the credentials in the form (client_secret_post); RFC 6749 §2.3.1 prefers Basic.
    if (opts.tokenAuthMethod === 'client_secret_basic') useClientSecretBasic(client, opts.clientId, opts.clientSecret);
    const getToken = client.getOAuthAccessToken.bind(client);
    client.getOAuthAccessToken = (code, params, cb) =>
      getToken(code, params, (err: unknown, accessToken: unknown, refreshToken: unknown, results: unknown) => {
        if (err) return cb(err);
        const problem = tokenResponseProblem(accessToken, results);
        if (problem) return cb(problem);
        cb(null, accessToken, refreshToken, results);
      });
  }

  override authenticate(req: Request, options?: object): void {
    restoringAttemptOnError(this, req, this.loginState, this.providerId, () => super.authenticate(req, options));
  }

  /** passport-oauth2 asks for the profile with the access token; what comes back goes to `validate` as it is. */
  override userProfile(accessToken: string, done: (err?: unknown, profile?: unknown) => void): void {
    this.profileJson(accessToken).then(
      (profile) => done(null, profile),
      (e: unknown) => done(e),
    );
  }

  /** The provider's profile answer(s), parsed; `validate` checks their shape. */
  protected abstract profileJson(accessToken: string): Promise<unknown>;

  /**
   * GET `url` with the access token in the Authorization header only (RFC 6750 §2.1, SECURITY.md F9), within the
   * provider timeout; the body parsed as JSON (any JSON: GitHub's emails are a list). A failure is an
   * InternalOAuthError carrying node-oauth's error, which the sign-in reports as provider_error, or
   * provider_unavailable when the provider could not be reached.
   */
  protected getJson(url: string, accessToken: string, headers: Record<string, string>, what: string): Promise<unknown> {
    const client = oauth2ClientOf(this);
    return new Promise((resolve, reject) => {
      const cb = withTimeout((err: unknown, body?: unknown) => {
        if (err) return reject(new InternalOAuthError(`Failed to fetch ${what}`, err));
        try {
          resolve(JSON.parse(typeof body === 'string' ? body : ''));
        } catch {
          reject(
            new InternalOAuthError(`Failed to fetch ${what}`, providerAnswer('the provider answered with something that is not JSON')),
          );
        }
      }, this.timeoutMs);
      client._request('GET', url, { ...headers, Authorization: `Bearer ${accessToken}` }, '', null, cb);
    });
  }
}

/** The HTTP status of a failed getJson, if the provider answered one. */
export function failedStatus(e: unknown): number | undefined {
  const status = (e as { oauthError?: { statusCode?: unknown } } | null)?.oauthError?.statusCode;
  return typeof status === 'number' ? status : undefined;
}
