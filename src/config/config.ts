import { createPrivateKey, type KeyObject } from 'node:crypto';
import { z } from 'zod';
import { lowerCaseAscii } from '../common/email.js';
import { ConfigError } from './config-error.js';
import { githubFromEnv, oauth2FromEnv, type GithubProviderConfig, type OAuth2ProviderConfig } from './oauth-providers.js';

/**
 * The service's configuration, read once from the environment at start-up (contract: shared/docs/http-api.md).
 * `loadConfig` is pure: it neither logs nor touches the file system, so every rule here is unit-tested directly.
 */

export type JwtAlg = 'RS256' | 'ES256' | 'EdDSA';
export type ProviderType = 'google' | 'facebook' | 'oidc' | 'apple' | 'microsoft' | 'github' | 'oauth2';

interface ProviderBase {
  id: string;
  name: string;
  type: ProviderType;
  clientId: string;
  clientSecret: string;
}

export interface GoogleProviderConfig extends ProviderBase {
  type: 'google';
  /** The `iss` Google's ID tokens carry; endpoint overrides never change it. */
  issuer: string;
  authorizationUrl: string;
  tokenUrl: string;
  userinfoUrl: string;
  jwksUrl: string;
}

export interface FacebookProviderConfig extends ProviderBase {
  type: 'facebook';
  graphVersion: string;
  authorizationUrl: string;
  tokenUrl: string;
  profileUrl: string;
}

/** How the client authenticates at a provider's token endpoint (RFC 6749 §2.3.1, OIDC Core §9). */
export const TOKEN_AUTH_METHODS = ['client_secret_basic', 'client_secret_post'] as const;
export type TokenAuthMethod = (typeof TOKEN_AUTH_METHODS)[number];

export interface OidcProviderConfig extends ProviderBase {
  type: 'oidc';
  issuer: string;
  scopes: string[];
  /** OIDC_<ID>_TOKEN_AUTH_METHOD: forces one; otherwise chosen from the provider's discovery document. */
  tokenAuthMethod?: TokenAuthMethod;
  rolesClaim?: string;
  /** Provider claim value → local roles. Without a map, claim values are taken as role names. */
  roleMap?: Record<string, string[]>;
  /** The built-in demo provider: its metadata is known in-process, so no discovery request is made. */
  demo?: boolean;
}

export type ProviderConfig =
  | GoogleProviderConfig
  | FacebookProviderConfig
  | OidcProviderConfig
  | AppleProviderConfig
  | MicrosoftProviderConfig
  | GithubProviderConfig
  | OAuth2ProviderConfig;
export type { GithubProviderConfig, OAuth2ProviderConfig };

export type DatabaseConfig = { type: 'sqlite'; path: string } | { type: 'postgres'; url: string };

export interface AppConfig {
  production: boolean;
  port: number;
  publicUrl: string;
  /** Where the service keeps files of its own (SQLite database, generated APP_SECRET). */
  dataDir: string;
  database: DatabaseConfig;
  /** Undefined outside production when not set: resolved (generated once into dataDir) by resolveAppSecret. */
  appSecret?: string;
  jwt: {
    alg: JwtAlg;
    audience: string;
    accessTokenTtl: number;
    refreshTokenTtl: number;
    refreshIdleTtl: number;
    /**
     * Seconds after a refresh token is spent in which presenting it again, while its successor is still unused, is
     * taken for a retry whose answer was lost (a fresh successor retires the unused one) instead of reuse. 0 = off.
     */
    refreshReuseGrace: number;
  };
  /** Signing keys older than this are rotated (checked hourly by every instance; one wins). */
  keyRotationDays: number;
  /** Lifetime of the one-time code handed to the app (≤ 60 s by contract). */
  codeTtl: number;
  /** How long a started sign-in may take at the provider before its login state expires. */
  loginStateTtl: number;
  allowedReturnUrls: string[];
  adminEmails: string[];
  autoLinkVerifiedEmail: boolean;
  providers: ProviderConfig[];
  demoIdp: boolean;
  /** OPENID_PROVIDER: other apps sign in through this service with OpenID Connect (issue 17, docs/openid-provider.md). */
  openidProvider: boolean;
  /**
   * Back-Channel Logout 1.0 deliveries (docs/openid-provider.md): attempts per logout token, the wait before the
   * first retry (doubling after each), and the timeout of one POST to a client.
   */
  backchannelLogout: { attempts: number; retryMs: number; timeoutMs: number };
  redisUrl?: string;
  rateLimits: boolean;
  /** Requests per minute per client IP, by kind of route. */
  rateLimitPerMinute: { signIn: number; token: number; admin: number; clientAuthFailures: number };
  /** How long a client's previous secret keeps working after a rotation, unless the rotation says otherwise. */
  clientSecretGracePeriod: number;
  /** Namespace for this deployment's keys in a shared Redis. */
  redisKeyPrefix: string;
  /** Each Redis command's timeout; then the request goes on without Redis. */
  redisTimeoutMs: number;
  /** After a Redis failure, how long it is not asked again (a circuit breaker). */
  redisRetryMs: number;
  providerTimeoutMs: number;
  /** Express's `trust proxy`: which proxies' X-Forwarded-For to believe for the client IP (never for URLs). */
  trustProxy?: string;
  /** Nest's HTTP adapter: Fastify (the default: docs/fastify-trial.md) or Express (for Express middleware of one's own). */
  httpAdapter: 'fastify' | 'express';
  logLevel: string;
  /** A connection that sends nothing for this long is closed (slow-loris defence). */
  httpIdleTimeoutMs: number;
}

/**
 * Whether the service is reached over https (Secure and `__Host-` cookies, HSTS). PUBLIC_URL says so, never a
 * request's scheme or X-Forwarded-Proto, which whoever sits in front could set (SECURITY.md F4).
 */
export const servedOverHttps = (config: Pick<AppConfig, 'publicUrl'>): boolean => config.publicUrl.startsWith('https://');

export { ConfigError };

export const GOOGLE_ISSUER = 'https://accounts.google.com';
/** Facebook Graph API version pinned by default (passport-facebook alone would still use v3.2). */
export const FACEBOOK_GRAPH_VERSION = 'v24.0';
export const DEMO_PROVIDER_ID = 'demo';
export const DEMO_IDP_PATH = '/demo-idp';

const seconds = (fallback: number) => z.coerce.number().int().positive().default(fallback);
const bool = (fallback: boolean) =>
  z
    .enum(['true', 'false', '1', '0', 'yes', 'no', 'on', 'off'])
    .default(fallback ? 'true' : 'false')
    .transform((v) => ['true', '1', 'yes', 'on'].includes(v));
const list = z
  .string()
  .default('')
  .transform((s) =>
    s
      .split(',')
      .map((x) => x.trim())
      .filter(Boolean),
  );
const absoluteUrl = z.url({ protocol: /^https?$/ });

const baseSchema = z.object({
  NODE_ENV: z.string().default('development'),
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  PUBLIC_URL: absoluteUrl.optional(),
  DATABASE_URL: z.string().default('sqlite:./data/app.db'),
  DATA_DIR: z.string().optional(),
  APP_SECRET: z.string().min(32, 'APP_SECRET must be at least 32 characters').optional(),
  JWT_ALG: z.enum(['RS256', 'ES256', 'EdDSA']).default('RS256'),
  JWT_AUDIENCE: z.string().min(1).optional(),
  ACCESS_TOKEN_TTL: seconds(900),
  REFRESH_TOKEN_TTL: seconds(2_592_000),
  REFRESH_IDLE_TTL: seconds(1_209_600),
  // 0 turns the grace off. At most 5 minutes: every second of it is a second in which a copy of a just-spent token
  // still works once (Ory Hydra caps its grace at 5 minutes too; Cognito at 60 s).
  REFRESH_REUSE_GRACE: z.coerce.number().int().min(0).max(300).default(30),
  KEY_ROTATION_DAYS: z.coerce.number().positive().default(30),
  CODE_TTL: z.coerce.number().int().min(1).max(60).default(60),
  LOGIN_STATE_TTL: seconds(600),
  ALLOWED_RETURN_URLS: list,
  ADMIN_EMAILS: list,
  AUTO_LINK_VERIFIED_EMAIL: bool(false),
  OIDC_PROVIDERS: list,
  OAUTH_PROVIDERS: list,
  DEMO_IDP: bool(true),
  OPENID_PROVIDER: bool(false),
  BACKCHANNEL_LOGOUT_ATTEMPTS: z.coerce.number().int().min(1).max(20).default(5),
  BACKCHANNEL_LOGOUT_RETRY_MS: z.coerce.number().int().min(10).default(15_000),
  BACKCHANNEL_LOGOUT_TIMEOUT_MS: z.coerce.number().int().min(100).max(60_000).default(5_000),
  REDIS_URL: z.string().optional(),
  RATE_LIMITS: z.string().default('on'),
  RATE_LIMIT_SIGN_IN: z.coerce.number().int().positive().default(30),
  RATE_LIMIT_TOKEN: z.coerce.number().int().positive().default(600),
  RATE_LIMIT_ADMIN: z.coerce.number().int().positive().default(300),
  RATE_LIMIT_CLIENT_AUTH_FAILURES: z.coerce.number().int().positive().default(10),
  CLIENT_SECRET_GRACE_PERIOD: z.coerce.number().int().min(0).default(86_400),
  REDIS_KEY_PREFIX: z.string().max(64).default('sls:'),
  REDIS_TIMEOUT_MS: z.coerce.number().int().positive().default(300),
  REDIS_RETRY_MS: z.coerce.number().int().positive().default(3000),
  PROVIDER_TIMEOUT_MS: z.coerce.number().int().positive().default(10_000),
  TRUST_PROXY: z.string().optional(),
  HTTP_ADAPTER: z.enum(['fastify', 'express']).default('fastify'),
  HTTP_IDLE_TIMEOUT_MS: z.coerce.number().int().positive().default(10_000),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

type Env = Record<string, string | undefined>;

export function loadConfig(rawEnv: Env): AppConfig {
  // An empty variable means "not set", as in most .env tooling.
  const env: Env = Object.fromEntries(Object.entries(rawEnv).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = baseSchema.safeParse(env);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ConfigError(`Invalid configuration: ${String(issue.path[0])}: ${issue.message}`);
  }
  const e = parsed.data;
  const production = e.NODE_ENV === 'production';
  if (production && !e.APP_SECRET) {
    throw new ConfigError('Invalid configuration: APP_SECRET is required when NODE_ENV=production');
  }
  const publicUrl = stripTrailingSlash(e.PUBLIC_URL ?? `http://localhost:${e.PORT}`);
  const database = parseDatabaseUrl(e.DATABASE_URL);
  const dataDir = e.DATA_DIR ?? (database.type === 'sqlite' ? dirnameOf(database.path) : './data');

  const providers: ProviderConfig[] = [];
  const google = googleFromEnv(env);
  if (google) providers.push(google);
  const facebook = facebookFromEnv(env);
  if (facebook) providers.push(facebook);
  const demoIdp = !production && e.DEMO_IDP;
  if (demoIdp) {
    providers.push({
      id: DEMO_PROVIDER_ID,
      name: 'Demo',
      type: 'oidc',
      issuer: `${publicUrl}${DEMO_IDP_PATH}`,
      clientId: 'demo-client',
      // The demo OP runs in this process and is only reachable through it; this secret protects nothing real.
      clientSecret: 'demo-client-secret-not-for-production',
      scopes: ['openid', 'email', 'profile'],
      demo: true,
    });
  }
  for (const id of e.OIDC_PROVIDERS) providers.push(oidcFromEnv(id, env));
  // Sign in with Apple and Microsoft Entra ID (issue 18), each enabled by its client id.
  const apple = appleFromEnv(env);
  if (apple) providers.push(apple);
  const microsoft = microsoftFromEnv(env);
  if (microsoft) providers.push(microsoft);
  // GitHub and generic OAuth 2.0 providers (issue 18): src/config/oauth-providers.ts.
  const github = githubFromEnv(env);
  if (github) providers.push(github);
  for (const id of e.OAUTH_PROVIDERS) providers.push(oauth2FromEnv(id, env));

  const seen = new Set<string>();
  for (const p of providers) {
    if (seen.has(p.id)) throw new ConfigError(`Invalid configuration: provider id "${p.id}" is configured twice`);
    seen.add(p.id);
  }

  return {
    production,
    port: e.PORT,
    publicUrl,
    dataDir,
    database,
    appSecret: e.APP_SECRET,
    jwt: {
      alg: e.JWT_ALG,
      audience: e.JWT_AUDIENCE ?? publicUrl,
      accessTokenTtl: e.ACCESS_TOKEN_TTL,
      refreshTokenTtl: e.REFRESH_TOKEN_TTL,
      refreshIdleTtl: e.REFRESH_IDLE_TTL,
      refreshReuseGrace: e.REFRESH_REUSE_GRACE,
    },
    keyRotationDays: e.KEY_ROTATION_DAYS,
    codeTtl: e.CODE_TTL,
    loginStateTtl: e.LOGIN_STATE_TTL,
    allowedReturnUrls: e.ALLOWED_RETURN_URLS.length ? e.ALLOWED_RETURN_URLS.map(normaliseAllowedReturnUrl) : [publicUrl],
    // Folded as profile emails are (ASCII only), so that each entry matches its own mailbox and no look-alike.
    adminEmails: e.ADMIN_EMAILS.map(lowerCaseAscii),
    autoLinkVerifiedEmail: e.AUTO_LINK_VERIFIED_EMAIL,
    providers,
    demoIdp,
    openidProvider: e.OPENID_PROVIDER,
    backchannelLogout: {
      attempts: e.BACKCHANNEL_LOGOUT_ATTEMPTS,
      retryMs: e.BACKCHANNEL_LOGOUT_RETRY_MS,
      timeoutMs: e.BACKCHANNEL_LOGOUT_TIMEOUT_MS,
    },
    redisUrl: e.REDIS_URL,
    rateLimits: e.RATE_LIMITS !== 'off',
    rateLimitPerMinute: {
      signIn: e.RATE_LIMIT_SIGN_IN,
      token: e.RATE_LIMIT_TOKEN,
      admin: e.RATE_LIMIT_ADMIN,
      clientAuthFailures: e.RATE_LIMIT_CLIENT_AUTH_FAILURES,
    },
    clientSecretGracePeriod: e.CLIENT_SECRET_GRACE_PERIOD,
    redisKeyPrefix: e.REDIS_KEY_PREFIX,
    redisTimeoutMs: e.REDIS_TIMEOUT_MS,
    redisRetryMs: e.REDIS_RETRY_MS,
    providerTimeoutMs: e.PROVIDER_TIMEOUT_MS,
    trustProxy: e.TRUST_PROXY,
    httpAdapter: e.HTTP_ADAPTER,
    logLevel: e.LOG_LEVEL,
    httpIdleTimeoutMs: e.HTTP_IDLE_TIMEOUT_MS,
  };
}

function requireVar(env: Env, name: string, why: string): string {
  const v = env[name];
  if (!v) throw new ConfigError(`Invalid configuration: ${name} is required ${why}`);
  return v;
}

function urlVar(env: Env, name: string, fallback: string): string {
  const v = env[name] ?? fallback;
  if (!absoluteUrl.safeParse(v).success) throw new ConfigError(`Invalid configuration: ${name} must be an absolute http(s) URL`);
  return v;
}

function googleFromEnv(env: Env): GoogleProviderConfig | undefined {
  if (!env.GOOGLE_CLIENT_ID && !env.GOOGLE_CLIENT_SECRET) return undefined;
  const why = 'to enable Google (GOOGLE_CLIENT_ID and GOOGLE_CLIENT_SECRET go together)';
  return {
    id: 'google',
    name: 'Google',
    type: 'google',
    issuer: GOOGLE_ISSUER,
    clientId: requireVar(env, 'GOOGLE_CLIENT_ID', why),
    clientSecret: requireVar(env, 'GOOGLE_CLIENT_SECRET', why),
    authorizationUrl: urlVar(env, 'GOOGLE_AUTHORIZATION_URL', 'https://accounts.google.com/o/oauth2/v2/auth'),
    tokenUrl: urlVar(env, 'GOOGLE_TOKEN_URL', 'https://oauth2.googleapis.com/token'),
    userinfoUrl: urlVar(env, 'GOOGLE_USERINFO_URL', 'https://openidconnect.googleapis.com/v1/userinfo'),
    jwksUrl: urlVar(env, 'GOOGLE_JWKS_URL', 'https://www.googleapis.com/oauth2/v3/certs'),
  };
}

function facebookFromEnv(env: Env): FacebookProviderConfig | undefined {
  if (!env.FACEBOOK_CLIENT_ID && !env.FACEBOOK_CLIENT_SECRET) return undefined;
  const why = 'to enable Facebook (FACEBOOK_CLIENT_ID and FACEBOOK_CLIENT_SECRET go together)';
  const graphVersion = env.FACEBOOK_GRAPH_VERSION ?? FACEBOOK_GRAPH_VERSION;
  if (!/^v\d+\.\d+$/.test(graphVersion)) {
    throw new ConfigError('Invalid configuration: FACEBOOK_GRAPH_VERSION must look like v24.0');
  }
  return {
    id: 'facebook',
    name: 'Facebook',
    type: 'facebook',
    graphVersion,
    clientId: requireVar(env, 'FACEBOOK_CLIENT_ID', why),
    clientSecret: requireVar(env, 'FACEBOOK_CLIENT_SECRET', why),
    authorizationUrl: urlVar(env, 'FACEBOOK_AUTHORIZATION_URL', `https://www.facebook.com/${graphVersion}/dialog/oauth`),
    tokenUrl: urlVar(env, 'FACEBOOK_TOKEN_URL', `https://graph.facebook.com/${graphVersion}/oauth/access_token`),
    profileUrl: urlVar(env, 'FACEBOOK_PROFILE_URL', `https://graph.facebook.com/${graphVersion}/me`),
  };
}

const PROVIDER_ID = /^[a-z][a-z0-9_-]{0,31}$/;
const RESERVED_IDS = new Set(['google', 'facebook', DEMO_PROVIDER_ID, 'apple', 'microsoft', 'github']);

function oidcFromEnv(rawId: string, env: Env): OidcProviderConfig {
  const id = rawId.toLowerCase();
  if (!PROVIDER_ID.test(id)) {
    throw new ConfigError(`Invalid configuration: OIDC_PROVIDERS entry "${rawId}" must be letters, digits, "-" or "_"`);
  }
  if (RESERVED_IDS.has(id)) throw new ConfigError(`Invalid configuration: OIDC_PROVIDERS entry "${id}" is a reserved id`);
  const prefix = `OIDC_${id.toUpperCase().replace(/-/g, '_')}_`;
  const why = `because OIDC_PROVIDERS lists "${id}"`;
  const issuer = requireVar(env, `${prefix}ISSUER`, why);
  if (!absoluteUrl.safeParse(issuer).success) {
    throw new ConfigError(`Invalid configuration: ${prefix}ISSUER must be an absolute http(s) URL`);
  }
  const tokenAuthMethod = env[`${prefix}TOKEN_AUTH_METHOD`];
  if (tokenAuthMethod !== undefined && !(TOKEN_AUTH_METHODS as readonly string[]).includes(tokenAuthMethod)) {
    throw new ConfigError(`Invalid configuration: ${prefix}TOKEN_AUTH_METHOD must be ${TOKEN_AUTH_METHODS.join(' or ')}`);
  }
  const scopes = (env[`${prefix}SCOPES`] ?? 'openid email profile').split(/[\s,]+/).filter(Boolean);
  if (!scopes.includes('openid')) scopes.unshift('openid');
  return {
    id,
    name: env[`${prefix}NAME`] ?? id,
    type: 'oidc',
    issuer,
    clientId: requireVar(env, `${prefix}CLIENT_ID`, why),
    clientSecret: requireVar(env, `${prefix}CLIENT_SECRET`, why),
    scopes,
    ...(tokenAuthMethod !== undefined ? { tokenAuthMethod: tokenAuthMethod as TokenAuthMethod } : {}),
    rolesClaim: env[`${prefix}ROLES_CLAIM`],
    roleMap: parseRoleMap(env[`${prefix}ROLE_MAP`], `${prefix}ROLE_MAP`),
  };
}

/** A role name: what `@Roles()` and tokens carry. */
export const ROLE_NAME = /^[A-Za-z][A-Za-z0-9_.:-]{0,63}$/;

/** `claimValue:localRole,…` (a claim value may map to several roles by repeating it). */
function parseRoleMap(raw: string | undefined, name: string): Record<string, string[]> | undefined {
  if (!raw) return undefined;
  const map: Record<string, string[]> = {};
  for (const entry of raw
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean)) {
    const i = entry.lastIndexOf(':');
    const value = entry.slice(0, i).trim();
    const role = entry.slice(i + 1).trim();
    if (i <= 0 || !ROLE_NAME.test(role))
      throw new ConfigError(`Invalid configuration: ${name} entry "${entry}" must be claimValue:localRole`);
    (map[value] ??= []).push(role);
  }
  return map;
}

export function parseDatabaseUrl(url: string): DatabaseConfig {
  if (url.startsWith('sqlite:')) {
    const path = url.slice('sqlite:'.length).replace(/^\/\/(?=\/)/, '');
    if (!path) throw new ConfigError('Invalid configuration: DATABASE_URL sqlite: needs a path, e.g. sqlite:./data/app.db');
    return { type: 'sqlite', path };
  }
  if (/^postgres(ql)?:\/\//.test(url)) return { type: 'postgres', url };
  throw new ConfigError('Invalid configuration: DATABASE_URL must be sqlite:PATH or postgres://…');
}

/** An allowed return URL is an origin (any path under it) or an exact URL; kept normalised for comparison. */
function normaliseAllowedReturnUrl(entry: string): string {
  let u: URL;
  try {
    u = new URL(entry);
  } catch {
    throw new ConfigError(`Invalid configuration: ALLOWED_RETURN_URLS entry "${entry}" is not an absolute URL`);
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') {
    throw new ConfigError(`Invalid configuration: ALLOWED_RETURN_URLS entry "${entry}" must be http(s)`);
  }
  return u.pathname === '/' && !u.search ? u.origin : `${u.origin}${u.pathname}`;
}

function stripTrailingSlash(s: string): string {
  return s.replace(/\/+$/, '');
}

function dirnameOf(path: string): string {
  const i = path.lastIndexOf('/');
  return i <= 0 ? (i === 0 ? '/' : '.') : path.slice(0, i);
}

// ---- Sign in with Apple and Microsoft Entra ID v2 (issue 18) -------------------------------------------------------

/** The `iss` of Apple's ID tokens and the `aud` of the client secret the service signs for Apple; overrides keep it. */
export const APPLE_ISSUER = 'https://appleid.apple.com';

/**
 * Sign in with Apple: OIDC with quirks (see auth/providers/apple/). There is no static client secret: the service signs
 * one (an ES256 JWT) with the team's key.
 */
export interface AppleProviderConfig extends Omit<ProviderBase, 'clientSecret'> {
  type: 'apple';
  /** The Services ID. */
  clientId: string;
  teamId: string;
  keyId: string;
  /** PEM (PKCS#8) of the .p8 key Apple issued: an EC P-256 key. */
  privateKey: string;
  issuer: string;
  authorizationUrl: string;
  tokenUrl: string;
  jwksUrl: string;
}

/** Entra ID's tenant of personal Microsoft accounts (outlook.com, live.com, …): the `tid` of all of them. */
export const MICROSOFT_CONSUMERS_TENANT = '9188040d-6c67-4c5b-b112-36a304b66dad';
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
export const isTenantId = (v: unknown): v is string => typeof v === 'string' && GUID.test(v);

/** Microsoft Entra ID v2 (the Microsoft identity platform). */
export interface MicrosoftProviderConfig extends ProviderBase {
  type: 'microsoft';
  /** `common`, `organizations`, `consumers` or one tenant id (lower-case GUID). */
  tenant: string;
  /** MICROSOFT_TENANTS: the only tenant ids accepted; empty = whatever `tenant` admits. */
  tenants: string[];
  authorizationUrl: string;
  tokenUrl: string;
  jwksUrl: string;
}

function appleFromEnv(env: Env): AppleProviderConfig | undefined {
  const names = ['APPLE_CLIENT_ID', 'APPLE_TEAM_ID', 'APPLE_KEY_ID', 'APPLE_PRIVATE_KEY'];
  if (!names.some((n) => env[n])) return undefined;
  const why = `to enable Sign in with Apple (${names.join(', ')} go together)`;
  const [clientId, teamId, keyId, pem] = names.map((n) => requireVar(env, n, why));
  // .env files often carry a PEM on one line with literal "\n"s.
  const privateKey = pem.includes('-----BEGIN') ? pem.replace(/\\n/g, '\n') : pem;
  let key: KeyObject;
  try {
    key = createPrivateKey(privateKey);
  } catch {
    throw new ConfigError('Invalid configuration: APPLE_PRIVATE_KEY must be the PEM of the .p8 key from Apple');
  }
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw new ConfigError('Invalid configuration: APPLE_PRIVATE_KEY must be an EC P-256 key (the .p8 key from Apple), for ES256');
  }
  return {
    id: 'apple',
    name: 'Apple',
    type: 'apple',
    clientId,
    teamId,
    keyId,
    privateKey,
    issuer: APPLE_ISSUER,
    authorizationUrl: urlVar(env, 'APPLE_AUTHORIZATION_URL', `${APPLE_ISSUER}/auth/authorize`),
    tokenUrl: urlVar(env, 'APPLE_TOKEN_URL', `${APPLE_ISSUER}/auth/token`),
    jwksUrl: urlVar(env, 'APPLE_JWKS_URL', `${APPLE_ISSUER}/auth/keys`),
  };
}

function microsoftFromEnv(env: Env): MicrosoftProviderConfig | undefined {
  if (!env.MICROSOFT_CLIENT_ID && !env.MICROSOFT_CLIENT_SECRET) return undefined;
  const why = 'to enable Microsoft (MICROSOFT_CLIENT_ID and MICROSOFT_CLIENT_SECRET go together)';
  const tenant = (env.MICROSOFT_TENANT ?? 'common').toLowerCase();
  if (!['common', 'organizations', 'consumers'].includes(tenant) && !isTenantId(tenant)) {
    throw new ConfigError('Invalid configuration: MICROSOFT_TENANT must be common, organizations, consumers or a tenant id (a GUID)');
  }
  const tenants = (env.MICROSOFT_TENANTS ?? '')
    .split(',')
    .map((t) => t.trim().toLowerCase())
    .filter(Boolean);
  for (const t of tenants) {
    if (!isTenantId(t)) throw new ConfigError(`Invalid configuration: MICROSOFT_TENANTS entry "${t}" is not a tenant id (a GUID)`);
  }
  if (isTenantId(tenant) && tenants.length > 0 && !tenants.includes(tenant)) {
    // Nobody could sign in: the tenant's own accounts are not listed, and no other tenant's reach its endpoints.
    throw new ConfigError(`Invalid configuration: MICROSOFT_TENANTS does not list MICROSOFT_TENANT ${tenant}`);
  }
  const base = `https://login.microsoftonline.com/${tenant}`;
  return {
    id: 'microsoft',
    name: 'Microsoft',
    type: 'microsoft',
    clientId: requireVar(env, 'MICROSOFT_CLIENT_ID', why),
    clientSecret: requireVar(env, 'MICROSOFT_CLIENT_SECRET', why),
    tenant,
    tenants,
    authorizationUrl: urlVar(env, 'MICROSOFT_AUTHORIZATION_URL', `${base}/oauth2/v2.0/authorize`),
    tokenUrl: urlVar(env, 'MICROSOFT_TOKEN_URL', `${base}/oauth2/v2.0/token`),
    jwksUrl: urlVar(env, 'MICROSOFT_JWKS_URL', `${base}/discovery/v2.0/keys`),
  };
}
