/**
 * Where a sign-in goes, decided by a pure function that also names the rule that fired; the audit trail records that
 * rule so an admin can see why. Accounts are keyed by (provider, subject), never by email alone (SECURITY.md I5).
 */

export interface LinkingFacts {
  /** The (provider, subject) identity is already known, and belongs to this user. */
  existingIdentityUserId: string | null;
  /** A signed-in user asked to link this identity to their account. */
  linkingUserId: string | null;
  /** The identity's email and whether its provider verified it (Facebook never does). */
  email: string | null;
  emailVerified: boolean;
  autoLinkVerifiedEmail: boolean;
  /** Accounts whose email equals this identity's and was itself provider-verified (looked up only when needed). */
  verifiedEmailOwners: string[];
}

export type LinkingDecision =
  | { action: 'sign_in'; userId: string; rule: 'existing_identity' | 'already_linked_to_you' }
  | { action: 'link'; userId: string; rule: 'link_requested' | 'auto_link_verified_email' }
  | {
      action: 'create_account';
      rule: 'new_account' | 'new_account_auto_link_off' | 'new_account_email_unverified' | 'new_account_email_ambiguous';
    }
  | { action: 'refuse'; code: 'identity_already_linked'; rule: 'identity_owned_by_other_user' };

/** Whether the decision needs `verifiedEmailOwners`: saves the email query on every returning sign-in. */
export function needsEmailOwners(
  f: Pick<LinkingFacts, 'existingIdentityUserId' | 'linkingUserId' | 'autoLinkVerifiedEmail' | 'email' | 'emailVerified'>,
): boolean {
  return f.existingIdentityUserId === null && f.linkingUserId === null && f.autoLinkVerifiedEmail && f.emailVerified && f.email !== null;
}

export function decideLinking(f: LinkingFacts): LinkingDecision {
  if (f.existingIdentityUserId !== null) {
    if (f.linkingUserId === null) return { action: 'sign_in', userId: f.existingIdentityUserId, rule: 'existing_identity' };
    if (f.linkingUserId === f.existingIdentityUserId) {
      return { action: 'sign_in', userId: f.existingIdentityUserId, rule: 'already_linked_to_you' };
    }
    // Never moved silently from one account to another.
    return { action: 'refuse', code: 'identity_already_linked', rule: 'identity_owned_by_other_user' };
  }
  if (f.linkingUserId !== null) return { action: 'link', userId: f.linkingUserId, rule: 'link_requested' };
  if (!f.autoLinkVerifiedEmail) return { action: 'create_account', rule: f.email ? 'new_account_auto_link_off' : 'new_account' };
  if (!f.email) return { action: 'create_account', rule: 'new_account' };
  if (!f.emailVerified) return { action: 'create_account', rule: 'new_account_email_unverified' };
  if (f.verifiedEmailOwners.length === 1) return { action: 'link', userId: f.verifiedEmailOwners[0], rule: 'auto_link_verified_email' };
  if (f.verifiedEmailOwners.length > 1) return { action: 'create_account', rule: 'new_account_email_ambiguous' };
  return { action: 'create_account', rule: 'new_account' };
}

/** Why a link was refused before any identity was looked at: the browser is not the requesting user's. */
export type LinkBrowserRule = 'no_browser_session' | 'browser_session_of_another_user';

/**
 * A link completes only in the browser of the user who asked for it (SECURITY.md L1): the link URL is a bearer ticket,
 * so whoever opens it would otherwise attach *their* provider identity to the requester's account — the victim's
 * later sign-ins, verified email and mapped roles would land there. Keycloak likewise requires the user's own SSO
 * session for account linking. `browserUserId` is the user of the service's own browser session, if any.
 */
export function linkBrowserRefusal(linkingUserId: string, browserUserId: string | undefined): LinkBrowserRule | null {
  if (browserUserId === undefined) return 'no_browser_session';
  return browserUserId === linkingUserId ? null : 'browser_session_of_another_user';
}
