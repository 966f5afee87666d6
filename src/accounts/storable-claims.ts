import type { JsonObject } from '../database/columns.js';

/**
 * How deep a provider's claims are kept. Real ones are shallow: OIDC Core §5.1's deepest standard claim is `address`,
 * one object in the top one; Entra's, GitHub's and generic UserInfo answers nest a level or two more.
 */
export const MAX_CLAIM_DEPTH = 16;

/**
 * A provider's claims as they can be stored and shown: values nested deeper than MAX_CLAIM_DEPTH become null. JSON.parse
 * reads nesting of any depth, but JSON.stringify (the identity's column) and structuredClone recurse and overflow the
 * stack on a few hundred kilobytes of `[[[[…]]]]`: a provider (or anyone on the path to it, SECURITY.md F10) could make
 * every sign-in of its accounts a server error. The copy recurses at most MAX_CLAIM_DEPTH levels; `__proto__` and
 * other keys stay plain own properties (Object.fromEntries defines them, it does not assign).
 */
export function storableClaims(claims: JsonObject): JsonObject {
  return bounded(claims, 0) as JsonObject;
}

function bounded(v: unknown, depth: number): unknown {
  if (v === null || typeof v !== 'object') return v;
  if (depth >= MAX_CLAIM_DEPTH) return null;
  if (Array.isArray(v)) return v.map((x) => bounded(x, depth + 1));
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, bounded(x, depth + 1)]));
}
