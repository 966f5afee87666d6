import type { JsonObject } from '../../database/columns.js';

/** What every strategy's verify step turns its provider's answer into; nothing provider-specific goes past this. */
export interface ProviderProfile {
  provider: string;
  subject: string;
  /** Lower-cased. */
  email: string | null;
  /** Only true when the provider asserted it (OIDC `email_verified`); Facebook never does. */
  emailVerified: boolean;
  name: string | null;
  picture: string | null;
  /** Roles the provider asserts through its configured roles claim (OIDC_<ID>_ROLES_CLAIM). */
  providerRoles?: string[];
  /** The claims as received, for admins and later role mapping. */
  claims: JsonObject;
}

export const str = (v: unknown, max = 2048): string | null => (typeof v === 'string' && v.length > 0 ? v.slice(0, max) : null);

export const emailOf = (v: unknown): string | null => {
  const s = str(v, 320);
  return s && s.includes('@') ? s.toLowerCase() : null;
};

/** OIDC Core §5.1 says boolean; some providers send the string "true". Anything else is unverified. */
export const isVerified = (v: unknown): boolean => v === true || v === 'true';

/** A claim whose string or string-array value names roles. */
export const rolesFrom = (v: unknown): string[] =>
  typeof v === 'string' ? [v] : Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
