import { DomainError } from '../../../common/domain-error.js';
import { emailOf, providerProfile, str, type ProviderProfile } from '../../../accounts/provider-profile.js';

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/**
 * The address to keep from GitHub's `/user/emails` list (`[{ email, primary, verified, visibility }]`), and whether
 * GitHub verified it: the primary if verified, else the first verified one, else the primary as unverified (someone
 * can add any address to an account, and make it primary, without proving they own it). Only `true` counts as
 * verified. Entries that are not objects, or whose address is no address, are passed over.
 */
export function chooseGithubEmail(emails: unknown[]): { email: string; verified: boolean } | null {
  const entries = emails
    .filter(isObject)
    .map((e) => ({ email: emailOf(e.email), primary: e.primary === true, verified: e.verified === true }));
  const usable = entries.filter((e): e is { email: string; primary: boolean; verified: boolean } => e.email !== null);
  const primary = usable.find((e) => e.primary);
  const chosen = primary?.verified ? primary : (usable.find((e) => e.verified) ?? primary);
  return chosen ? { email: chosen.email, verified: chosen.verified } : null;
}

/**
 * GitHub's `/user` (and `/user/emails`, when the token may read it) as our profile. The subject is the numeric `id`:
 * the `login` can be renamed by its owner, and then taken by someone else. Without the emails list (a GitHub App
 * token without the email permission) only the public profile email is known, and GitHub does not say it is
 * verified there.
 */
export function githubProfile(user: unknown, emails: unknown): ProviderProfile {
  if (!isObject(user)) throw new DomainError('provider_error', 'GitHub answered the profile request with something that is not a user');
  if (emails !== undefined && !Array.isArray(emails)) {
    throw new DomainError('provider_error', 'GitHub answered the emails request with something that is not a list');
  }
  const id = user.id;
  // JSON numbers past 2^53 lose digits: two accounts could share one subject.
  if (typeof id !== 'number' || !Number.isSafeInteger(id) || id <= 0) {
    throw new DomainError('provider_error', 'GitHub’s answer has no numeric user id');
  }
  const chosen = emails === undefined ? { email: emailOf(user.email), verified: false } : chooseGithubEmail(emails);
  return providerProfile({
    provider: 'github',
    subject: String(id),
    email: chosen?.email ?? null,
    emailVerified: chosen?.verified ?? false,
    name: str(user.name, 200) ?? str(user.login, 200),
    picture: str(user.avatar_url),
    claims: { ...user, email: chosen?.email ?? null, email_verified: chosen?.verified ?? false },
  });
}
