import { emailOf, str, type ProviderProfile } from '../provider-profile.js';

/**
 * Graph `/me` as a profile. The email is absent when the person declined the permission, and never counts as
 * verified: Facebook does not say whether it is (so it can never auto-link an account).
 */
export function facebookProfile(me: Record<string, unknown>): ProviderProfile {
  const picture = (me.picture as { data?: { url?: unknown; is_silhouette?: unknown } } | undefined)?.data;
  return {
    provider: 'facebook',
    subject: String(me.id),
    email: emailOf(me.email),
    emailVerified: false,
    name: str(me.name, 200),
    picture: picture && picture.is_silhouette !== true ? str(picture.url) : null,
    claims: me,
  };
}
