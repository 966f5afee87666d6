/**
 * Emails are compared case-insensitively in ASCII only (A–Z to a–z), everywhere: profiles, ADMIN_EMAILS, searches.
 * Unicode case mapping joins different mailboxes: the Kelvin sign "\u212A" lower-cases to "k", so "\u212Aate@corp.test"
 * would become Kate's address, be auto-linked into her account and get her ADMIN_EMAILS admin; "İ" becomes two
 * characters. Whether a mail server folds any case in the local part is its own business (RFC 5321 §2.4); ASCII
 * folding is what providers and mail systems agree on.
 */
export function lowerCaseAscii(s: string): string {
  return s.replace(/[A-Z]+/g, (upper) => upper.toLowerCase());
}
