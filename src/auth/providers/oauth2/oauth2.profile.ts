import { DomainError } from '../../../common/domain-error.js';
import { isVerified, providerProfile, str, type ProviderProfile } from '../../../accounts/provider-profile.js';
import type { ProfileFieldMapping } from '../../../config/oauth-providers.js';

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/**
 * The value at a dotted path (already split: `['data', 'user', 'id']`), through the JSON's own properties only (the
 * configuration refuses `__proto__` and friends too); undefined where the path leads nowhere.
 */
export function valueAt(json: unknown, path: readonly string[]): unknown {
  let v: unknown = json;
  for (const key of path) {
    if (!isObject(v) || !Object.hasOwn(v, key)) return undefined;
    v = v[key];
  }
  return v;
}

/**
 * A subject as a string: a string as it is, a number as its decimal digits (GitLab's ids are numbers, Discord's are
 * strings). A number that JSON cannot carry exactly (past 2^53, or with a fraction) would be some other account's
 * number too: refused, like a subject of any other type (providerProfile says why).
 */
function subjectOf(v: unknown): unknown {
  if (typeof v !== 'number') return v;
  if (!Number.isSafeInteger(v)) throw new DomainError('provider_error', 'the provider’s subject is a number JSON cannot carry exactly');
  return String(v);
}

/**
 * A picture only when it is an http(s) URL: some providers' profile fields hold an image id to build a URL from
 * (Discord's `avatar` is a hash), and a page must never get a `javascript:` or `data:` link from a provider.
 */
function pictureUrl(v: unknown): string | null {
  const s = str(v);
  if (s === null || !URL.canParse(s)) return null;
  return ['https:', 'http:'].includes(new URL(s).protocol) ? s : null;
}

/**
 * A generic OAuth 2.0 provider's UserInfo answer as our profile, through the configured mapping. The email counts as
 * verified only when the mapping names a field that says so (`true` or `"true"` there): plain OAuth 2.0 promises
 * nothing about an email, and a verified one can link accounts and grant ADMIN_EMAILS' role.
 */
export function oauth2Profile(provider: string, fields: ProfileFieldMapping, userinfo: unknown): ProviderProfile {
  if (!isObject(userinfo))
    throw new DomainError('provider_error', 'the provider answered the profile request with something that is not an object');
  return providerProfile({
    provider,
    subject: subjectOf(valueAt(userinfo, fields.subject)),
    email: str(valueAt(userinfo, fields.email)),
    emailVerified: fields.emailVerified !== undefined && isVerified(valueAt(userinfo, fields.emailVerified)),
    name: str(valueAt(userinfo, fields.name), 200),
    picture: pictureUrl(valueAt(userinfo, fields.picture)),
    claims: userinfo,
  });
}
