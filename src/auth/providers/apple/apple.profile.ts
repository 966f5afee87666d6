import { DomainError } from '../../../common/domain-error.js';
import { emailOf, isVerified, providerProfile, str, type ProviderProfile } from '../../../accounts/provider-profile.js';

/** What Apple's `user` form field may be: it is small (a name and an address), so anything longer is not Apple's. */
const MAX_USER_FIELD = 2048;

/**
 * The person's name from the `user` form field Apple posts with the first authorization of an app only
 * (`{"name":{"firstName":…,"lastName":…},"email":…}`), never again and never in the ID token. The field is unsigned —
 * anyone who posts to the callback writes it — so it is trusted for nothing but a display name, and its `email` is
 * never read: the address comes from the verified ID token alone.
 */
export function nameFromUserField(user: unknown): string | null {
  if (typeof user !== 'string' || user.length > MAX_USER_FIELD) return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(user);
  } catch {
    return null;
  }
  const name = (parsed as { name?: unknown } | null)?.name;
  if (name === null || typeof name !== 'object') return null;
  const { firstName, lastName } = name as Record<string, unknown>;
  const parts = [firstName, lastName].filter((p): p is string => typeof p === 'string' && p.trim() !== '').map((p) => p.trim());
  return str(parts.join(' '), 200);
}

/**
 * Apple's verified ID token (and the name from the first callback) as our profile. Apple sends `email_verified` and
 * `is_private_email` as the strings "true"/"false" or as booleans, depending on the age of the app and the platform.
 * A private relay address (…@privaterelay.appleid.com, `is_private_email`) is kept as Apple says, verified when Apple
 * says so, but never used to join accounts by email: it belongs to this app's relationship with the person, and no
 * other provider can vouch for it.
 */
export function appleProfile(provider: string, idToken: Record<string, unknown>, userField: unknown): ProviderProfile {
  if (typeof idToken.sub !== 'string') throw new DomainError('provider_error', 'Apple’s ID token has no subject');
  const claims: Record<string, unknown> = { ...idToken };
  for (const k of ['nonce', 'nonce_supported', 'at_hash', 'c_hash', 'aud', 'azp', 'iat', 'exp', 'auth_time']) delete claims[k];
  claims.email_verified = isVerified(idToken.email_verified);
  claims.is_private_email = isVerified(idToken.is_private_email);
  const email = emailOf(idToken.email);
  const privateRelay = isVerified(idToken.is_private_email) || (email?.endsWith('@privaterelay.appleid.com') ?? false);
  return providerProfile({
    provider,
    subject: idToken.sub,
    email,
    emailVerified: email !== null && isVerified(idToken.email_verified),
    name: nameFromUserField(userField),
    picture: null,
    emailLinkable: !privateRelay,
    claims: claims as ProviderProfile['claims'],
  });
}
