import { DomainError } from '../../../common/domain-error.js';
import { emailOf, providerProfile, str, type ProviderProfile } from '../../../accounts/provider-profile.js';

/**
 * Graph `/me` as a profile. The email is absent when the person declined the permission, and never counts as
 * verified: Facebook does not say whether it is (so it can never auto-link an account). The id is taken as it comes:
 * providerProfile refuses one that is missing or not a string.
 */
export function facebookProfile(me: Record<string, unknown>): ProviderProfile {
  // Graph sometimes answers an error object with HTTP 200; passport-facebook only looks for one on error statuses.
  const graphError = me.error;
  if (graphError !== null && typeof graphError === 'object') {
    throw new DomainError('provider_error', 'Facebook answered the profile request with an error', { cause: graphError });
  }
  const picture = (me.picture as { data?: { url?: unknown; is_silhouette?: unknown } } | undefined)?.data;
  return providerProfile({
    provider: 'facebook',
    subject: me.id,
    email: emailOf(me.email),
    emailVerified: false,
    name: str(me.name, 200),
    picture: picture && picture.is_silhouette !== true ? str(picture.url) : null,
    claims: me,
  });
}
