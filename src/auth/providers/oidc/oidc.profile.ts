import { DomainError } from '../../../common/domain-error.js';
import { emailOf, isVerified, providerProfile, rolesFrom, str, type ProviderProfile } from '../../../accounts/provider-profile.js';

/**
 * One profile from a verified ID token and, when fetched, UserInfo. UserInfo must describe the same subject (OIDC
 * Core §5.3.2, SECURITY.md I4); the signed ID token wins where both carry a claim.
 */
export function oidcProfile(
  provider: string,
  idToken: Record<string, unknown>,
  userinfo: Record<string, unknown> | undefined,
  rolesClaim?: string,
): ProviderProfile {
  if (userinfo && userinfo.sub !== idToken.sub) {
    throw new DomainError('invalid_id_token', 'the provider’s UserInfo describes another subject than its ID token');
  }
  const claims: Record<string, unknown> = { ...(userinfo ?? {}), ...idToken };
  for (const k of ['nonce', 'at_hash', 'c_hash', 'aud', 'azp', 'iat', 'exp', 'auth_time']) delete claims[k];
  const email = emailOf(claims.email);
  return providerProfile({
    provider,
    subject: idToken.sub,
    email,
    emailVerified: email !== null && isVerified(claims.email_verified),
    name: str(claims.name, 200) ?? str([claims.given_name, claims.family_name].filter(Boolean).join(' '), 200),
    picture: str(claims.picture),
    providerRoles: rolesClaim ? rolesFrom(claims[rolesClaim]) : undefined,
    claims,
  });
}
