import { DomainError } from '../../common/domain-error.js';
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

/** C0, DEL and C1 control characters: no identifier a provider issues has them, and they hide in logs and admin views. */
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f-\u009f]/;
/** OIDC Core §2: `sub` "MUST NOT exceed 255 ASCII characters"; identities.subject is a varchar(255). */
export const MAX_SUBJECT_LENGTH = 255;

/** Why a provider's subject is unusable, or undefined when it is usable. */
function subjectProblem(subject: unknown): string | undefined {
  if (subject === undefined || subject === null) return 'it names none';
  if (typeof subject !== 'string') return `it is a ${Array.isArray(subject) ? 'list' : typeof subject}, not a string`;
  if (subject.length === 0) return 'it is empty';
  if (subject.length > MAX_SUBJECT_LENGTH) return `it is longer than ${MAX_SUBJECT_LENGTH} characters`;
  if (CONTROL_CHARACTERS.test(subject)) return 'it contains control characters';
  return undefined;
}

/**
 * The one way to make a ProviderProfile, so every provider gets the same subject rule. Accounts are keyed by
 * (provider, subject): a subject coerced from something else ("undefined", "[object Object]", "") would be shared by
 * everyone the provider answered that way for, and sign them all into one account. Such an answer is a provider fault.
 */
export function providerProfile(fields: Omit<ProviderProfile, 'subject'> & { subject: unknown }): ProviderProfile {
  const problem = subjectProblem(fields.subject);
  if (problem !== undefined) {
    throw new DomainError('provider_error', `the provider's answer has no usable subject identifier: ${problem}`);
  }
  return { ...fields, subject: fields.subject as string };
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
