import { AccountsModule } from '../../src/accounts/accounts.module.js';
import { AccountsService } from '../../src/accounts/accounts.service.js';
import { Identity } from '../../src/accounts/identity.entity.js';
import { User } from '../../src/accounts/user.entity.js';
import { UsersRepository } from '../../src/accounts/users.repository.js';
import type { DomainError } from '../../src/common/domain-error.js';
import { insertIdentity, insertUser, profile, startSession, unique } from '../support/factories.js';
import {
  accepted,
  auditOf,
  describeOnTestDatabase,
  issueAccessToken,
  refusal,
  startMedium,
  TEST_DB,
  type Medium,
} from '../support/medium.js';

/**
 * AccountsService on a real database: the linking policy's decisions (pure, unit-tested in linking-policy.spec.ts)
 * as they land in the users and identities tables, provider roles kept as the union over a user's identities, and
 * the last identity that cannot be unlinked.
 */
const describeOnDb = await describeOnTestDatabase();

const ctx = { ip: '203.0.113.7', userAgent: 'medium-spec' };
const CORP = {
  OIDC_PROVIDERS: 'corp,acme',
  OIDC_CORP_ISSUER: 'https://corp.example',
  OIDC_CORP_CLIENT_ID: 'corp-client',
  OIDC_CORP_CLIENT_SECRET: 'corp-secret',
  OIDC_CORP_ROLES_CLAIM: 'groups',
  OIDC_CORP_ROLE_MAP: 'devs:developer,ops:admin,ops:operator',
  OIDC_ACME_ISSUER: 'https://acme.example',
  OIDC_ACME_CLIENT_ID: 'acme-client',
  OIDC_ACME_CLIENT_SECRET: 'acme-secret',
};

describeOnDb(`AccountsService on ${TEST_DB}`, () => {
  let medium: Medium;
  let accounts: AccountsService;
  const userRow = (id: string) => medium.database.run((manager) => manager.findOneBy(User, { id }));
  const identitiesOf = (userId: string) =>
    medium.database.run((manager) => manager.find(Identity, { where: { userId }, order: { linkedAt: 'ASC' } }));
  const countUsers = () => medium.database.run((manager) => manager.count(User));

  beforeAll(async () => {
    medium = await startMedium([AccountsModule], { env: { ...CORP, ADMIN_EMAILS: 'root@corp.test' } });
    accounts = medium.get(AccountsService);
  });

  afterAll(async () => {
    await medium?.close();
  });

  describe('signing in (AUTO_LINK_VERIFIED_EMAIL off, the default)', () => {
    it('I5: a first sign-in creates an account and its identity; the next one of that (provider, subject) finds it', async () => {
      const ada = profile({ email: 'ada@acme.test', emailVerified: true, name: 'Ada', picture: 'https://acme.test/ada.png' });
      const first = await accounts.signIn(ada, { ctx });
      expect(await userRow(first.user.id)).toMatchObject({
        email: 'ada@acme.test',
        emailVerified: true,
        name: 'Ada',
        roles: ['user'],
        providerRoles: [],
        disabled: false,
      });
      const [identity] = await identitiesOf(first.user.id);
      expect(identity).toMatchObject({ provider: 'acme', subject: ada.subject, email: 'ada@acme.test', claims: ada.claims });

      medium.clock.advance(60_000);
      const users = await countUsers();
      const again = await accounts.signIn({ ...ada, name: 'Ada L.' }, { ctx });
      expect(again.user.id).toBe(first.user.id);
      expect(again.identity.id).toBe(identity.id);
      expect(await countUsers()).toBe(users);
      expect(await userRow(first.user.id)).toMatchObject({ name: 'Ada L.', updatedAt: medium.clock.now() });
      expect(await identitiesOf(first.user.id)).toEqual([
        expect.objectContaining({ id: identity.id, name: 'Ada L.', linkedAt: identity.linkedAt, lastSignInAt: medium.clock.now() }),
      ]);
      expect((await auditOf(medium, first.user.id)).map((e) => [e.type, e.reason])).toEqual([
        ['account_created', 'new_account_auto_link_off'],
        ['sign_in', 'new_account_auto_link_off'],
        ['sign_in', 'existing_identity'],
      ]);
    });

    it('writes only what a returning sign-in changed, and the substring search follows it', async () => {
      const search = (q: string) => medium.get(UsersRepository).search(q, undefined, 5);
      const tag = unique('kay');
      const kay = profile({ email: `${tag}@acme.test`, emailVerified: true, name: `Kay ${tag}`, picture: 'https://acme.test/k.png' });
      const { user } = await accounts.signIn(kay, { ctx });
      medium.clock.advance(60_000);
      // The same profile again: only the time moves, and the account is found as before.
      await accounts.signIn(kay, { ctx });
      expect(await userRow(user.id)).toMatchObject({
        email: kay.email,
        name: kay.name,
        picture: kay.picture,
        updatedAt: medium.clock.now(),
      });
      expect((await search(`${tag}@acme`)).map((u) => u.id)).toEqual([user.id]);
      // A new name and picture: written, found by the new name, no longer by the old.
      await accounts.signIn({ ...kay, name: `Kai ${tag}x`, picture: 'https://acme.test/k2.png' }, { ctx });
      expect(await userRow(user.id)).toMatchObject({ email: kay.email, name: `Kai ${tag}x`, picture: 'https://acme.test/k2.png' });
      expect((await search(`Kai ${tag}x`)).map((u) => u.id)).toEqual([user.id]);
      expect(await search(`Kay ${tag}`)).toEqual([]);
      // The identity likewise: what the provider changed is written, the rest kept.
      await accounts.signIn({ ...kay, email: `${tag}@new.test`, name: `Kai ${tag}x`, claims: { ...kay.claims, team: 'b' } }, { ctx });
      expect(await identitiesOf(user.id)).toEqual([
        expect.objectContaining({
          email: `${tag}@new.test`,
          name: `Kai ${tag}x`,
          claims: { ...kay.claims, team: 'b' },
          lastSignInAt: medium.clock.now(),
        }),
      ]);
    });

    it('I5: never joins accounts by email: the same verified email at another provider is another account', async () => {
      const email = `${unique('grace')}@shared.test`;
      const atAcme = await accounts.signIn(profile({ provider: 'acme', email, emailVerified: true }), { ctx });
      const atCorp = await accounts.signIn(profile({ provider: 'corp', email, emailVerified: true }), { ctx });
      expect(atCorp.user.id).not.toBe(atAcme.user.id);
      expect(await identitiesOf(atAcme.user.id)).toHaveLength(1);
      expect(await identitiesOf(atCorp.user.id)).toHaveLength(1);
    });

    it('keeps a verified email when a later sign-in brings an unverified one, and takes a verified one over an unverified', async () => {
      const verified = profile({ email: 'kept@acme.test', emailVerified: true, name: 'Kept' });
      const { user } = await accounts.signIn(verified, { ctx });
      await accounts.signIn({ ...verified, email: 'other@acme.test', emailVerified: false, name: null }, { ctx });
      expect(await userRow(user.id)).toMatchObject({ email: 'kept@acme.test', emailVerified: true, name: 'Kept' });

      const unverified = profile({ email: 'maybe@acme.test', emailVerified: false });
      const second = await accounts.signIn(unverified, { ctx });
      await accounts.signIn({ ...unverified, email: 'sure@acme.test', emailVerified: true }, { ctx });
      expect(await userRow(second.user.id)).toMatchObject({ email: 'sure@acme.test', emailVerified: true });
    });

    it('grants admin for an ADMIN_EMAILS address only once a provider verified it, at that next sign-in', async () => {
      const root = profile({ provider: 'corp', email: 'root@corp.test', emailVerified: false });
      const { user } = await accounts.signIn(root, { ctx });
      expect((await userRow(user.id))!.roles).toEqual(['user']);
      await accounts.signIn({ ...root, emailVerified: true }, { ctx });
      expect((await userRow(user.id))!.roles).toEqual(['user', 'admin']);
    });

    it('refuses a disabled account (account_disabled): nothing of the profile is written, the refusal is audited', async () => {
      const old = profile({ name: 'Before' });
      const { user } = await accounts.signIn(old, { ctx });
      await medium.database.run((manager) => manager.update(User, { id: user.id }, { disabled: true }));
      const before = await userRow(user.id);
      medium.clock.advance(1000);
      expect((await refusal(accounts.signIn({ ...old, name: 'After' }, { ctx }))).code).toBe('account_disabled');
      expect(await userRow(user.id)).toEqual(before);
      expect((await identitiesOf(user.id))[0].name).toBe('Before');
      expect((await auditOf(medium, user.id)).at(-1)).toMatchObject({
        type: 'sign_in_failed',
        reason: 'account_disabled',
        provider: 'acme',
      });
    });

    it('of two first sign-ins of one identity at once, both end in the same single account', async () => {
      const users = await countUsers();
      const twice = profile({ email: 'racer@acme.test', emailVerified: true });
      const [a, b] = await Promise.all([accounts.signIn(twice, { ctx }), accounts.signIn(twice, { ctx })]);
      expect(b.user.id).toBe(a.user.id);
      expect(await countUsers()).toBe(users + 1);
      expect(await identitiesOf(a.user.id)).toHaveLength(1);
    });
  });

  describe('linking while signed in', () => {
    it('links a new identity to the requesting user, audited with its rule; linking it again just signs in', async () => {
      const { user } = await accounts.signIn(profile(), { ctx });
      const corp = profile({ provider: 'corp', email: 'ada@corp.test', emailVerified: true });
      const linked = await accounts.signIn(corp, { linkUserId: user.id, ctx });
      expect(linked.user.id).toBe(user.id);
      expect((await identitiesOf(user.id)).map((i) => i.provider)).toEqual(['acme', 'corp']);
      expect((await auditOf(medium, user.id)).slice(-2).map((e) => [e.type, e.reason])).toEqual([
        ['identity_linked', 'link_requested'],
        ['sign_in', 'link_requested'],
      ]);
      await accounts.signIn(corp, { linkUserId: user.id, ctx });
      expect((await auditOf(medium, user.id)).at(-1)).toMatchObject({ type: 'sign_in', reason: 'already_linked_to_you' });
      expect(await identitiesOf(user.id)).toHaveLength(2);
    });

    it('refuses an identity that belongs to another user (identity_already_linked) and never moves it', async () => {
      const owner = await accounts.signIn(profile({ provider: 'corp' }), { ctx });
      const thief = await accounts.signIn(profile(), { ctx });
      const theirs = profile({ provider: 'corp', subject: owner.identity.subject });
      expect((await refusal(accounts.signIn(theirs, { linkUserId: thief.user.id, ctx }))).code).toBe('identity_already_linked');
      expect((await identitiesOf(owner.user.id)).map((i) => i.id)).toEqual([owner.identity.id]);
      expect((await identitiesOf(thief.user.id)).map((i) => i.provider)).toEqual(['acme']);
      expect((await auditOf(medium, thief.user.id)).at(-1)).toMatchObject({ type: 'link_refused', reason: 'identity_already_linked' });
    });

    it('refuses a link for an account deleted meanwhile (invalid_state), creating nothing', async () => {
      const gone = await insertUser(medium);
      await medium.database.run((manager) => manager.delete(User, { id: gone.id }));
      const users = await countUsers();
      const stray = profile();
      expect((await refusal(accounts.signIn(stray, { linkUserId: gone.id, ctx }))).code).toBe('invalid_state');
      expect(await countUsers()).toBe(users);
      expect(await medium.database.run((manager) => manager.countBy(Identity, { subject: stray.subject }))).toBe(0);
    });
  });

  describe('provider roles (OIDC_CORP_ROLE_MAP), the union over the user’s identities', () => {
    it('maps the roles claim through the map at each sign-in; values it does not name grant nothing', async () => {
      const dev = profile({ provider: 'corp', providerRoles: ['devs', 'interns'] });
      const { user, identity } = await accounts.signIn(dev, { ctx });
      expect(identity.mappedRoles).toEqual(['developer']);
      expect(await userRow(user.id)).toMatchObject({ roles: ['user'], providerRoles: ['developer'] });
      await accounts.signIn({ ...dev, providerRoles: ['devs', 'ops'] }, { ctx });
      expect((await userRow(user.id))!.providerRoles).toEqual(['admin', 'developer', 'operator']);
      expect((await auditOf(medium, user.id)).filter((e) => e.type === 'role_changed').map((e) => e.details)).toEqual([
        { from: [], to: ['developer'] },
        { from: ['developer'], to: ['admin', 'developer', 'operator'] },
      ]);
    });

    it('without a map takes the values that are role names as they are; a provider that is not OIDC grants nothing', async () => {
      const acme = await accounts.signIn(profile({ provider: 'acme', providerRoles: ['reports', 'not a role', 'devs'] }), { ctx });
      const google = await accounts.signIn(profile({ provider: 'google', providerRoles: ['admin'] }), { ctx });
      expect((await userRow(acme.user.id))!.providerRoles).toEqual(['devs', 'reports']);
      expect((await userRow(google.user.id))!.providerRoles).toEqual([]);
    });

    it('a role lost at a sign-in ends the user’s older access tokens; a role gained or the same roles end nothing', async () => {
      const ops = profile({ provider: 'corp', providerRoles: ['devs'] });
      const { user } = await accounts.signIn(ops, { ctx });
      const { sessionId } = await startSession(medium, user);
      const token = () => issueAccessToken(medium, { userId: user.id, sessionId, roles: [] });
      const before = await token();
      await accounts.signIn({ ...ops, providerRoles: ['devs', 'ops'] }, { ctx });
      await accounts.signIn({ ...ops, providerRoles: ['ops', 'devs'] }, { ctx });
      expect(accepted(medium, before)).toBe(true);
      await accounts.signIn({ ...ops, providerRoles: ['ops'] }, { ctx });
      expect(accepted(medium, before)).toBe(false);
      expect(accepted(medium, await token())).toBe(true);
      expect((await auditOf(medium, user.id)).filter((e) => e.type === 'role_changed')).toHaveLength(3);
    });

    it('keeps the roles another identity grants, and never touches the roles assigned here', async () => {
      const first = profile({ provider: 'corp', providerRoles: ['devs'] });
      const { user } = await accounts.signIn(first, { ctx });
      await medium.database.run((manager) => manager.update(User, { id: user.id }, { roles: ['user', 'auditor'] }));
      await accounts.signIn(profile({ provider: 'corp', providerRoles: ['ops'] }), { linkUserId: user.id, ctx });
      expect((await userRow(user.id))!.providerRoles).toEqual(['admin', 'developer', 'operator']);
      await accounts.signIn({ ...first, providerRoles: [] }, { ctx });
      expect(await userRow(user.id)).toMatchObject({ roles: ['user', 'auditor'], providerRoles: ['admin', 'operator'] });
    });
  });

  describe('unlinking', () => {
    it('refuses the last identity (last_identity) and removes one of two, audited with its actor', async () => {
      const { user, identity: first } = await accounts.signIn(profile(), { ctx });
      const other = await accounts.signIn(profile({ provider: 'corp' }), { linkUserId: user.id, ctx });
      await accounts.unlink(user.id, other.identity.id, ctx);
      expect((await identitiesOf(user.id)).map((i) => i.id)).toEqual([first.id]);
      expect((await auditOf(medium, user.id)).at(-1)).toMatchObject({
        type: 'identity_unlinked',
        actorId: user.id,
        provider: 'corp',
        details: { identityId: other.identity.id, subject: other.identity.subject },
      });
      expect((await refusal(accounts.unlink(user.id, first.id, ctx))).code).toBe('last_identity');
      expect((await identitiesOf(user.id)).map((i) => i.id)).toEqual([first.id]);
    });

    it('answers not_found for an identity of another user or an unknown user, removing nothing', async () => {
      const mine = await insertUser(medium);
      await insertIdentity(medium, mine);
      await insertIdentity(medium, mine);
      const theirs = await insertUser(medium);
      const theirIdentity = await insertIdentity(medium, theirs);
      await insertIdentity(medium, theirs);
      expect((await refusal(accounts.unlink(mine.id, theirIdentity.id, ctx))).code).toBe('not_found');
      expect((await refusal(accounts.unlink('no-such-user', theirIdentity.id, ctx))).code).toBe('not_found');
      expect(await identitiesOf(theirs.id)).toHaveLength(2);
    });

    it('takes the roles of the unlinked identity away, and with them the user’s older access tokens', async () => {
      const { user } = await accounts.signIn(profile(), { ctx });
      const ops = await accounts.signIn(profile({ provider: 'corp', providerRoles: ['ops'] }), { linkUserId: user.id, ctx });
      const { sessionId } = await startSession(medium, user);
      const token = await issueAccessToken(medium, { userId: user.id, sessionId, roles: ['admin'] });
      expect(accepted(medium, token)).toBe(true);
      await accounts.unlink(user.id, ops.identity.id, ctx);
      expect((await userRow(user.id))!.providerRoles).toEqual([]);
      expect(accepted(medium, token)).toBe(false);
    });

    it('of two concurrent unlinks of a two-identity account, exactly one succeeds', async () => {
      const user = await insertUser(medium);
      const a = await insertIdentity(medium, user);
      const b = await insertIdentity(medium, user);
      const results = await Promise.allSettled([accounts.unlink(user.id, a.id, ctx), accounts.unlink(user.id, b.id, ctx)]);
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      const [refused] = results.filter((r) => r.status === 'rejected');
      expect((refused.reason as DomainError).code).toBe('last_identity');
      expect(await identitiesOf(user.id)).toHaveLength(1);
    });
  });
});

describeOnDb(`AccountsService with AUTO_LINK_VERIFIED_EMAIL=true on ${TEST_DB}`, () => {
  let medium: Medium;
  let accounts: AccountsService;

  beforeAll(async () => {
    medium = await startMedium([AccountsModule], { env: { ...CORP, AUTO_LINK_VERIFIED_EMAIL: 'true' } });
    accounts = medium.get(AccountsService);
  });

  afterAll(async () => {
    await medium?.close();
  });

  /** Signs in at corp with this email and says where it landed: the account of `owner`, or a new one (by its rule). */
  async function landing(email: string, emailVerified: boolean, owner: string) {
    const { user } = await accounts.signIn(profile({ provider: 'corp', email, emailVerified }), { ctx });
    if (user.id === owner) return 'owner';
    const created = (await auditOf(medium, user.id)).find((e) => e.type === 'account_created');
    return created?.reason;
  }

  it('links a verified email to the one account whose email was verified too', async () => {
    const email = `${unique('lin')}@shared.test`;
    const { user } = await accounts.signIn(profile({ provider: 'acme', email, emailVerified: true }), { ctx });
    expect(await landing(email, true, user.id)).toBe('owner');
    expect((await auditOf(medium, user.id)).filter((e) => e.type === 'identity_linked').map((e) => e.reason)).toEqual([
      'auto_link_verified_email',
    ]);
  });

  it('does not link an unverified email, nor to an account whose own email was never verified', async () => {
    const email = `${unique('una')}@shared.test`;
    const verifiedOwner = await accounts.signIn(profile({ provider: 'acme', email, emailVerified: true }), { ctx });
    expect(await landing(email, false, verifiedOwner.user.id)).toBe('new_account_email_unverified');

    const other = `${unique('nev')}@shared.test`;
    const unverifiedOwner = await accounts.signIn(profile({ provider: 'acme', email: other, emailVerified: false }), { ctx });
    expect(await landing(other, true, unverifiedOwner.user.id)).toBe('new_account');
  });

  it('links to nobody when two accounts have that verified email', async () => {
    const email = `${unique('two')}@shared.test`;
    const first = await insertUser(medium, { email, emailVerified: true });
    await insertUser(medium, { email, emailVerified: true });
    expect(await landing(email, true, first.id)).toBe('new_account_email_ambiguous');
  });
});
