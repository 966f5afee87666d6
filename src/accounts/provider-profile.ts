import { DomainError } from '../common/domain-error.js';
import { lowerCaseAscii } from '../common/email.js';
import { CONTROL_CHARACTERS } from '../http/validators.js';
import type { JsonObject } from '../database/columns.js';
import { storableClaims } from './storable-claims.js';

/** What every strategy's verify step turns its provider's answer into; nothing provider-specific goes past this. */
export interface ProviderProfile {
  provider: string;
  subject: string;
  /** Lower-cased in ASCII only (see lowerCaseAscii); null when the provider's is not a plausible address. */
  email: string | null;
  /** Only true when the provider asserted it (OIDC `email_verified`); Facebook never does. */
  emailVerified: boolean;
  name: string | null;
  picture: string | null;
  /**
   * False: this email never joins accounts (AUTO_LINK_VERIFIED_EMAIL), however verified: Apple's private relay
   * addresses, which stand for one app's relationship with the person and which no other provider can vouch for.
   */
  emailLinkable?: boolean;
  /** Roles the provider asserts through its configured roles claim (OIDC_<ID>_ROLES_CLAIM). */
  providerRoles?: string[];
  /** The claims as received, for admins and later role mapping. */
  claims: JsonObject;
}

/**
 * Apple's private relay addresses stand for one app's relationship with one person, and only Apple can vouch for one:
 * whichever provider asserts such an address, it never joins accounts by email (in either direction).
 */
const PRIVATE_RELAY = /@privaterelay\.appleid\.com$/;

/** OIDC Core §2: `sub` "MUST NOT exceed 255 ASCII characters"; identities.subject is a varchar(255). */
export const MAX_SUBJECT_LENGTH = 255;
/** The columns users.* and identities.* keep them in (varchar: PostgreSQL refuses a longer value, SQLite does not). */
const MAX_EMAIL_LENGTH = 320;
const MAX_NAME_LENGTH = 200;
const MAX_PICTURE_LENGTH = 2048;
/** One @ between a local part and a domain, without spaces or control characters: enough to be someone's address. */
const PLAUSIBLE_EMAIL = /^[^\s@\p{Cc}]+@[^\s@\p{Cc}]+$/u;

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
 * The one way to make a ProviderProfile, so every provider gets the same rules. Accounts are keyed by
 * (provider, subject): a subject coerced from something else ("undefined", "[object Object]", "") would be shared by
 * everyone the provider answered that way for, and sign them all into one account. Such an answer is a provider fault.
 * The other fields are the provider's to fill as it likes, so one it fills oddly is dropped (or a name shortened) and
 * the sign-in goes on: each must fit its column on both databases (PostgreSQL refuses NUL and over-long values).
 */
export function providerProfile(fields: Omit<ProviderProfile, 'subject'> & { subject: unknown }): ProviderProfile {
  const problem = subjectProblem(fields.subject);
  if (problem !== undefined) {
    throw new DomainError('provider_error', `the provider's answer has no usable subject identifier: ${problem}`);
  }
  const { name, picture } = fields;
  const email = emailOf(fields.email);
  return {
    ...fields,
    subject: fields.subject as string,
    email,
    emailVerified: email !== null && fields.emailVerified,
    emailLinkable: fields.emailLinkable !== false && !(email !== null && PRIVATE_RELAY.test(email)),
    // Nested no deeper than can be stored (storable-claims.ts).
    claims: storableClaims(fields.claims),
    // A name is shown, so a long one is shortened; a URL cut short is no URL, so a long picture is dropped.
    name: plainText(name) ? str(name, MAX_NAME_LENGTH) : null,
    picture: plainText(picture) && picture.length <= MAX_PICTURE_LENGTH ? picture : null,
  };
}

/** A non-empty string without control characters (which hide in logs and admin views; NUL breaks PostgreSQL). */
const plainText = (v: unknown): v is string => typeof v === 'string' && v.length > 0 && !CONTROL_CHARACTERS.test(v);

/** A non-empty string, else null; at most `max` UTF-16 units, never ending in half of a surrogate pair (an emoji). */
export const str = (v: unknown, max = Infinity): string | null => {
  if (typeof v !== 'string') return null;
  const cut = v.slice(0, max);
  return (/[\uD800-\uDBFF]$/.test(cut) ? cut.slice(0, -1) : cut) || null;
};

/**
 * The address lower-cased in ASCII, or null when it is not a plausible one or longer than the column: never cut
 * short, which could make it another mailbox.
 */
export const emailOf = (v: unknown): string | null => {
  if (typeof v !== 'string') return null;
  const email = lowerCaseAscii(v);
  return email.length <= MAX_EMAIL_LENGTH && PLAUSIBLE_EMAIL.test(email) ? email : null;
};

/** OIDC Core §5.1 says boolean; some providers send the string "true". Anything else is unverified. */
export const isVerified = (v: unknown): boolean => v === true || v === 'true';

/** A claim whose string or string-array value names roles. */
export const rolesFrom = (v: unknown): string[] =>
  typeof v === 'string' ? [v] : Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
