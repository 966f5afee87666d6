import { lowerCaseAscii } from '../common/email.js';
import { ROLE_NAME } from '../config/config.js';
import { effectiveRoles } from '../tokens/token-roles.js';

export const ROLE_USER = 'user';
export const ROLE_ADMIN = 'admin';

const unique = (xs: string[]) => [...new Set(xs)];

/**
 * ADMIN_EMAILS grants admin only on an email its provider verified (an unverified one could be anybody's), compared
 * with ASCII-only case folding, as the list itself is folded: "\u212Aate@corp.test" (Kelvin sign) is not kate@corp.test.
 */
export function rolesAfterSignIn(
  current: string[],
  email: string | null,
  emailVerified: boolean,
  adminEmails: readonly string[],
): string[] {
  const roles = new Set(current.length ? current : [ROLE_USER]);
  if (email && emailVerified && adminEmails.includes(lowerCaseAscii(email))) roles.add(ROLE_ADMIN);
  return [...roles];
}

/**
 * A provider's role claim values as local roles: through OIDC_<ID>_ROLE_MAP when configured (values it does not
 * name grant nothing), otherwise the values themselves when they are valid role names.
 */
export function mapProviderRoles(values: string[], roleMap: Record<string, string[]> | undefined): string[] {
  if (roleMap) return unique(values.flatMap((v) => roleMap[v] ?? []));
  return unique(values.filter((v) => ROLE_NAME.test(v)));
}

/** The same roles, in any order: whether a change of roles is one (to audit, and to end tokens when one is lost). */
export function sameRoles(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && [...a].sort().join('\n') === [...b].sort().join('\n');
}

export function isAdmin(user: { roles: string[]; providerRoles: string[]; disabled: boolean }): boolean {
  return !user.disabled && effectiveRoles(user).includes(ROLE_ADMIN);
}
