import { z } from 'zod';
import { ConfigError } from './config-error.js';
import type { TokenAuthMethod } from './config.js';

/**
 * GitHub and the generic OAuth 2.0 (not OpenID Connect) providers, read from the environment once at start-up
 * (contract: shared/docs/http-api.md, "More provider kinds"). Pure, like loadConfig, which calls these.
 */

export interface GithubProviderConfig {
  id: 'github';
  name: string;
  type: 'github';
  clientId: string;
  clientSecret: string;
  /** `/login/oauth/authorize` and `/login/oauth/access_token` are joined onto it (GitHub Enterprise: its own host). */
  authorizationUrl: string;
  tokenUrl: string;
  /** `/user` and `/user/emails`, joined onto GITHUB_API_URL (Enterprise: `<GITHUB_URL>/api/v3`). */
  userUrl: string;
  emailsUrl: string;
}

/** Dotted paths into the UserInfo JSON (`data.user.id`), each already split into its keys. */
export interface ProfileFieldMapping {
  subject: string[];
  email: string[];
  /** None: no email from this provider is ever taken as verified (it can then never link or grant ADMIN_EMAILS). */
  emailVerified?: string[];
  name: string[];
  picture: string[];
}

export interface OAuth2ProviderConfig {
  id: string;
  name: string;
  type: 'oauth2';
  clientId: string;
  clientSecret: string;
  authorizationUrl: string;
  tokenUrl: string;
  userinfoUrl: string;
  /** Sent space-separated (RFC 6749 §3.3); none: no `scope` parameter. */
  scopes: string[];
  tokenAuthMethod: TokenAuthMethod;
  /** RFC 7636 S256, for providers that support it (most do now; some refuse an unknown parameter). */
  pkce: boolean;
  fields: ProfileFieldMapping;
}

type Env = Record<string, string | undefined>;

const absoluteUrl = z.url({ protocol: /^https?$/ });
const PROVIDER_ID = /^[a-z][a-z0-9_-]{0,31}$/;
/** The ids of the built-in provider kinds (and the demo's): a generic provider may not take one. */
const BUILT_IN_IDS = new Set(['google', 'facebook', 'github', 'apple', 'microsoft', 'demo']);
const OAUTH_TOKEN_AUTH_METHODS: readonly TokenAuthMethod[] = ['client_secret_basic', 'client_secret_post'];
/** Keys a dotted path may not walk through: reading them would reach the prototype, not the provider's JSON. */
const FORBIDDEN_KEYS = new Set(['__proto__', 'prototype', 'constructor']);

function required(env: Env, name: string, why: string): string {
  const v = env[name];
  if (!v) throw new ConfigError(`Invalid configuration: ${name} is required ${why}`);
  return v;
}

function url(name: string, value: string): string {
  if (!absoluteUrl.safeParse(value).success) throw new ConfigError(`Invalid configuration: ${name} must be an absolute http(s) URL`);
  return value;
}

/**
 * `base` + `path`, keeping the base's own path: GitHub Enterprise serves its API under `/api/v3`, which
 * `new URL('/user', base)` would drop (an absolute path replaces the base's). Query and fragment are not allowed on a
 * base URL, so there is nothing else to keep.
 */
export function joinUrl(base: string, path: string): string {
  return `${base.replace(/\/+$/, '')}/${path.replace(/^\/+/, '')}`;
}

function baseUrl(env: Env, name: string, fallback: string): string {
  const value = url(name, env[name] ?? fallback);
  const u = new URL(value);
  if (u.search || u.hash) throw new ConfigError(`Invalid configuration: ${name} must be a base URL without query or fragment`);
  return value.replace(/\/+$/, '');
}

/**
 * Where GitHub's REST API is for a web URL, when GITHUB_API_URL does not say: github.com's at api.github.com,
 * GHE.com's (data residency) at api.<subdomain>.ghe.com, and GitHub Enterprise Server's under <its URL>/api/v3
 * (docs.github.com, "REST API endpoints"; the path is joined onto the URL, which may have one of its own).
 */
function githubApiUrl(web: string): string {
  const { host, protocol } = new URL(web);
  if (host === 'github.com') return 'https://api.github.com';
  if (host.endsWith('.ghe.com')) return `${protocol}//api.${host}`;
  return joinUrl(web, 'api/v3');
}

export function githubFromEnv(env: Env): GithubProviderConfig | undefined {
  if (!env.GITHUB_CLIENT_ID && !env.GITHUB_CLIENT_SECRET) return undefined;
  const why = 'to enable GitHub (GITHUB_CLIENT_ID and GITHUB_CLIENT_SECRET go together)';
  const clientId = required(env, 'GITHUB_CLIENT_ID', why);
  const clientSecret = required(env, 'GITHUB_CLIENT_SECRET', why);
  const web = baseUrl(env, 'GITHUB_URL', 'https://github.com');
  const api = baseUrl(env, 'GITHUB_API_URL', githubApiUrl(web));
  return {
    id: 'github',
    name: 'GitHub',
    type: 'github',
    clientId,
    clientSecret,
    authorizationUrl: joinUrl(web, 'login/oauth/authorize'),
    tokenUrl: joinUrl(web, 'login/oauth/access_token'),
    userUrl: joinUrl(api, 'user'),
    emailsUrl: joinUrl(api, 'user/emails'),
  };
}

/** `a.b.c` → `['a', 'b', 'c']`; a bad path is a start-up error naming its variable. */
function fieldPath(env: Env, name: string, fallback: string | undefined): string[] | undefined {
  const raw = env[name] ?? fallback;
  if (raw === undefined) return undefined;
  const keys = raw.split('.');
  if (keys.some((k) => k === '' || FORBIDDEN_KEYS.has(k) || /[\s\p{Cc}]/u.test(k))) {
    throw new ConfigError(`Invalid configuration: ${name} must be a dotted path of field names, like user.id`);
  }
  return keys;
}

export function oauth2FromEnv(rawId: string, env: Env): OAuth2ProviderConfig {
  const id = rawId.toLowerCase();
  if (!PROVIDER_ID.test(id)) {
    throw new ConfigError(`Invalid configuration: OAUTH_PROVIDERS entry "${rawId}" must be letters, digits, "-" or "_"`);
  }
  if (BUILT_IN_IDS.has(id)) throw new ConfigError(`Invalid configuration: OAUTH_PROVIDERS entry "${id}" is a reserved id`);
  const prefix = `OAUTH_${id.toUpperCase().replace(/-/g, '_')}_`;
  const why = `because OAUTH_PROVIDERS lists "${id}"`;
  const endpoint = (suffix: string) => url(`${prefix}${suffix}`, required(env, `${prefix}${suffix}`, why));
  const method = env[`${prefix}TOKEN_AUTH_METHOD`] ?? 'client_secret_basic';
  if (!(OAUTH_TOKEN_AUTH_METHODS as readonly string[]).includes(method)) {
    throw new ConfigError(`Invalid configuration: ${prefix}TOKEN_AUTH_METHOD must be ${OAUTH_TOKEN_AUTH_METHODS.join(' or ')}`);
  }
  const pkce = env[`${prefix}PKCE`] ?? 'false';
  if (pkce !== 'true' && pkce !== 'false') throw new ConfigError(`Invalid configuration: ${prefix}PKCE must be true or false`);
  const emailVerified = fieldPath(env, `${prefix}EMAIL_VERIFIED_FIELD`, undefined);
  return {
    id,
    name: env[`${prefix}NAME`] ?? id,
    type: 'oauth2',
    clientId: required(env, `${prefix}CLIENT_ID`, why),
    clientSecret: required(env, `${prefix}CLIENT_SECRET`, why),
    authorizationUrl: endpoint('AUTHORIZATION_URL'),
    tokenUrl: endpoint('TOKEN_URL'),
    userinfoUrl: endpoint('USERINFO_URL'),
    scopes: (env[`${prefix}SCOPES`] ?? '').split(/[\s,]+/).filter(Boolean),
    tokenAuthMethod: method as TokenAuthMethod,
    pkce: pkce === 'true',
    fields: {
      subject: fieldPath(env, `${prefix}SUBJECT_FIELD`, 'id')!,
      email: fieldPath(env, `${prefix}EMAIL_FIELD`, 'email')!,
      ...(emailVerified ? { emailVerified } : {}),
      name: fieldPath(env, `${prefix}NAME_FIELD`, 'name')!,
      picture: fieldPath(env, `${prefix}PICTURE_FIELD`, 'picture')!,
    },
  };
}
