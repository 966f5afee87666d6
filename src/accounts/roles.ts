export const ROLE_USER = 'user';
export const ROLE_ADMIN = 'admin';

/** ADMIN_EMAILS grants admin only on an email its provider verified (an unverified one could be anybody's). */
export function rolesAfterSignIn(
  current: string[],
  email: string | null,
  emailVerified: boolean,
  adminEmails: readonly string[],
): string[] {
  const roles = new Set(current.length ? current : [ROLE_USER]);
  if (email && emailVerified && adminEmails.includes(email)) roles.add(ROLE_ADMIN);
  return [...roles];
}
