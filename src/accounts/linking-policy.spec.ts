import { decideLinking, linkBrowserRefusal, needsEmailOwners, type LinkingFacts } from './linking-policy.js';

const facts = (over: Partial<LinkingFacts> = {}): LinkingFacts => ({
  existingIdentityUserId: null,
  linkingUserId: null,
  email: 'a@example.test',
  emailVerified: true,
  autoLinkVerifiedEmail: false,
  verifiedEmailOwners: [],
  ...over,
});

describe('decideLinking', () => {
  it('signs a known identity in to its own account', () => {
    expect(decideLinking(facts({ existingIdentityUserId: 'u1' }))).toEqual({ action: 'sign_in', userId: 'u1', rule: 'existing_identity' });
  });

  it('links a new identity to the signed-in user who asked', () => {
    expect(decideLinking(facts({ linkingUserId: 'me' }))).toEqual({ action: 'link', userId: 'me', rule: 'link_requested' });
  });

  it('refuses to move an identity that belongs to someone else', () => {
    expect(decideLinking(facts({ existingIdentityUserId: 'other', linkingUserId: 'me' }))).toEqual({
      action: 'refuse',
      code: 'identity_already_linked',
      rule: 'identity_owned_by_other_user',
    });
  });

  it('treats linking an identity one already has as a sign-in', () => {
    expect(decideLinking(facts({ existingIdentityUserId: 'me', linkingUserId: 'me' })).rule).toBe('already_linked_to_you');
  });

  it('never merges by email when auto-linking is off', () => {
    expect(decideLinking(facts({ verifiedEmailOwners: ['u1'] }))).toEqual({ action: 'create_account', rule: 'new_account_auto_link_off' });
  });

  it('auto-links only a provider-verified email to exactly one verified owner', () => {
    const on = { autoLinkVerifiedEmail: true };
    expect(decideLinking(facts({ ...on, verifiedEmailOwners: ['u1'] }))).toEqual({
      action: 'link',
      userId: 'u1',
      rule: 'auto_link_verified_email',
    });
    expect(decideLinking(facts({ ...on, emailVerified: false, verifiedEmailOwners: ['u1'] })).rule).toBe('new_account_email_unverified');
    expect(decideLinking(facts({ ...on, verifiedEmailOwners: ['u1', 'u2'] })).rule).toBe('new_account_email_ambiguous');
    expect(decideLinking(facts({ ...on, verifiedEmailOwners: [] })).rule).toBe('new_account');
    expect(decideLinking(facts({ ...on, email: null })).rule).toBe('new_account');
  });

  it('asks for email owners only when the answer could matter', () => {
    expect(needsEmailOwners(facts({ autoLinkVerifiedEmail: true }))).toBe(true);
    expect(needsEmailOwners(facts({ autoLinkVerifiedEmail: false }))).toBe(false);
    expect(needsEmailOwners(facts({ autoLinkVerifiedEmail: true, emailVerified: false }))).toBe(false);
    expect(needsEmailOwners(facts({ autoLinkVerifiedEmail: true, existingIdentityUserId: 'u' }))).toBe(false);
  });
});

describe('linkBrowserRefusal (L1)', () => {
  it('L1: allows a link only in a browser signed in as the requesting user', () => {
    expect(linkBrowserRefusal('me', 'me')).toBeNull();
    expect(linkBrowserRefusal('me', undefined)).toBe('no_browser_session');
    expect(linkBrowserRefusal('me', 'someone-else')).toBe('browser_session_of_another_user');
  });
});
