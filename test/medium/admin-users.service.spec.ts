import { Identity } from '../../src/accounts/identity.entity.js';
import { User } from '../../src/accounts/user.entity.js';
import { AdminModule } from '../../src/admin/admin.module.js';
import { AdminUsersService } from '../../src/admin/admin-users.service.js';
import { Session } from '../../src/tokens/session.entity.js';
import { SessionsService } from '../../src/tokens/sessions.service.js';
import { insertIdentity, insertUser, startSession, unique } from '../support/factories.js';
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
 * AdminUsersService on a real database: what an admin's change does to a user's roles, sessions and tokens, deleting
 * and merging accounts, the search on either database, and the rule that the last enabled admin stays one.
 */
const describeOnDb = await describeOnTestDatabase();

const ctx = { ip: '192.0.2.9', userAgent: 'medium-spec' };
const ADMIN = ['user', 'admin'];

describeOnDb(`AdminUsersService on ${TEST_DB}`, () => {
  let medium: Medium;
  let admin: AdminUsersService;
  /** The acting admin; an admin other than the users changed, so no test here meets the last-admin rule. */
  let actor: User;
  const userRow = (id: string) => medium.database.run((manager) => manager.findOneBy(User, { id }));
  const sessionToken = async (user: User) => {
    const { sessionId, refreshToken } = await startSession(medium, user);
    return { sessionId, refreshToken, access: await issueAccessToken(medium, { userId: user.id, sessionId, roles: user.roles }) };
  };

  beforeAll(async () => {
    medium = await startMedium([AdminModule]);
    admin = medium.get(AdminUsersService);
    actor = await insertUser(medium, { roles: ADMIN, email: 'actor@corp.test' });
  });

  afterAll(async () => {
    await medium?.close();
  });

  describe('changing a user', () => {
    it('a role taken away ends the user’s older access tokens at once; a role given ends nothing; both audited', async () => {
      const user = await insertUser(medium, { roles: ['user', 'editor'] });
      const { access } = await sessionToken(user);
      const given = await admin.update(user.id, { roles: ['user', 'editor', 'auditor'] }, actor.id, ctx);
      expect(given).toMatchObject({ assignedRoles: ['user', 'editor', 'auditor'], roles: ['user', 'editor', 'auditor'] });
      expect(accepted(medium, access)).toBe(true);
      await admin.update(user.id, { roles: ['user', 'auditor'] }, actor.id, ctx);
      expect(accepted(medium, access)).toBe(false);
      expect((await auditOf(medium, user.id)).filter((e) => e.type === 'role_changed')).toEqual([
        expect.objectContaining({
          actorId: actor.id,
          reason: 'assigned',
          details: { from: ['user', 'editor'], to: ['user', 'editor', 'auditor'] },
        }),
        expect.objectContaining({
          actorId: actor.id,
          reason: 'assigned',
          details: { from: ['user', 'editor', 'auditor'], to: ['user', 'auditor'] },
        }),
      ]);
    });

    it('S2: disabling ends every session and access token of the user; enabling revives none of them', async () => {
      const user = await insertUser(medium);
      const phone = await sessionToken(user);
      const laptop = await sessionToken(user);
      const disabled = await admin.update(user.id, { disabled: true }, actor.id, ctx);
      expect(disabled).toMatchObject({ disabled: true, sessions: [] });
      const rows = await medium.database.run((manager) => manager.find(Session, { where: { userId: user.id } }));
      expect(rows.map((s) => s.revokedReason)).toEqual(['user_disabled', 'user_disabled']);
      expect([accepted(medium, phone.access), accepted(medium, laptop.access)]).toEqual([false, false]);

      await admin.update(user.id, { disabled: false }, actor.id, ctx);
      expect((await refusal(medium.get(SessionsService).rotate(phone.refreshToken, ctx))).code).toBe('invalid_grant');
      expect(accepted(medium, phone.access)).toBe(false);
      expect((await auditOf(medium, user.id)).map((e) => [e.type, e.actorId])).toEqual([
        ['user_disabled', actor.id],
        ['user_enabled', actor.id],
      ]);
    });

    it('shows a user with their identities and only their active sessions; not_found for nobody', async () => {
      const user = await insertUser(medium, { email: 'shown@acme.test', providerRoles: ['developer'] });
      const identity = await insertIdentity(medium, user, { provider: 'corp', mappedRoles: ['developer'] });
      const active = await startSession(medium, user);
      const ended = await startSession(medium, user);
      await medium.get(SessionsService).revoke(ended.sessionId, 'logout');
      expect(await admin.get(user.id)).toMatchObject({
        id: user.id,
        email: 'shown@acme.test',
        roles: ['user', 'developer'],
        assignedRoles: ['user'],
        providerRoles: ['developer'],
        identities: [expect.objectContaining({ id: identity.id, provider: 'corp', subject: identity.subject })],
        sessions: [expect.objectContaining({ id: active.sessionId })],
      });
      expect((await refusal(admin.get('no-such-user'))).code).toBe('not_found');
    });

    it('ends all of a user’s sessions on request, counting them', async () => {
      const user = await insertUser(medium);
      const { access } = await sessionToken(user);
      await startSession(medium, user);
      expect(await admin.revokeSessions(user.id, actor.id, ctx)).toEqual({ revoked: 2 });
      expect(accepted(medium, access)).toBe(false);
      expect((await auditOf(medium, user.id)).at(-1)).toMatchObject({ type: 'session_revoked', actorId: actor.id, details: { count: 2 } });
      expect((await refusal(admin.revokeSessions('no-such-user', actor.id, ctx))).code).toBe('not_found');
    });

    it('removes an identity as the admin, but never the last one', async () => {
      const user = await insertUser(medium);
      const first = await insertIdentity(medium, user);
      const second = await insertIdentity(medium, user);
      await admin.removeIdentity(user.id, second.id, actor.id, ctx);
      expect((await auditOf(medium, user.id)).at(-1)).toMatchObject({ type: 'identity_unlinked', actorId: actor.id });
      expect((await refusal(admin.removeIdentity(user.id, first.id, actor.id, ctx))).code).toBe('last_identity');
    });

    it('deletes a user with their identities and sessions; their tokens stop working and the audit rows stay', async () => {
      const user = await insertUser(medium, { email: 'gone@acme.test' });
      await insertIdentity(medium, user);
      const { access } = await sessionToken(user);
      await admin.remove(user.id, actor.id, ctx);
      expect(await userRow(user.id)).toBeNull();
      expect(await medium.database.run((manager) => manager.countBy(Identity, { userId: user.id }))).toBe(0);
      expect(await medium.database.run((manager) => manager.countBy(Session, { userId: user.id }))).toBe(0);
      expect(accepted(medium, access)).toBe(false);
      expect((await auditOf(medium, user.id)).at(-1)).toMatchObject({
        type: 'user_deleted',
        actorId: actor.id,
        details: { email: 'gone@acme.test' },
      });
      expect((await refusal(admin.remove(user.id, actor.id, ctx))).code).toBe('not_found');
    });
  });

  describe('merging two accounts', () => {
    it('moves identities and assigned roles, recomputes provider roles, ends the source’s tokens, records both sides', async () => {
      const target = await insertUser(medium, { roles: ['user', 'editor'] });
      const kept = await insertIdentity(medium, target, { provider: 'acme' });
      const source = await insertUser(medium, { roles: ['user', 'auditor'], providerRoles: ['developer'] });
      const moved = await insertIdentity(medium, source, { provider: 'corp', mappedRoles: ['developer'] });
      const targetTokens = await sessionToken(target);
      const sourceTokens = await sessionToken(source);

      const merged = await admin.merge(target.id, source.id, actor.id, ctx);
      expect(merged).toMatchObject({ assignedRoles: ['user', 'editor', 'auditor'], providerRoles: ['developer'] });
      expect(merged.identities.map((i) => i.id).sort()).toEqual([kept.id, moved.id].sort());
      expect(await userRow(source.id)).toBeNull();
      expect([accepted(medium, targetTokens.access), accepted(medium, sourceTokens.access)]).toEqual([true, false]);
      const details = {
        targetUserId: target.id,
        sourceUserId: source.id,
        identities: [{ id: moved.id, provider: 'corp', subject: moved.subject }],
        roles: ['user', 'editor', 'auditor'],
      };
      expect((await auditOf(medium, target.id)).find((e) => e.type === 'users_merged')).toMatchObject({ reason: 'merged_into', details });
      expect((await auditOf(medium, source.id)).find((e) => e.type === 'users_merged')).toMatchObject({ reason: 'merged_away', details });
    });

    it('refuses an account into itself (invalid_request) and an unknown one (not_found), changing nothing', async () => {
      const target = await insertUser(medium);
      const identity = await insertIdentity(medium, target);
      expect((await refusal(admin.merge(target.id, target.id, actor.id, ctx))).code).toBe('invalid_request');
      expect((await refusal(admin.merge(target.id, 'no-such-user', actor.id, ctx))).code).toBe('not_found');
      expect((await refusal(admin.merge('no-such-user', target.id, actor.id, ctx))).code).toBe('not_found');
      expect(await medium.database.run((manager) => manager.findBy(Identity, { userId: target.id }))).toEqual([identity]);
    });
  });

  describe('searching', () => {
    it('finds a whole email, part of an email or name, and a provider subject, the same on either database', async () => {
      const marker = unique('zebu').replace('-', '');
      const byEmail = await insertUser(medium, { email: `${marker}@acme.test` });
      const byName = await insertUser(medium, { name: `Ada ${marker.toUpperCase()} Lovelace` });
      const bySubject = await insertUser(medium);
      await insertIdentity(medium, bySubject, { subject: `${marker}-subject` });
      const ids = async (q: string) => (await admin.list(q, 10)).items.map((u) => u.id).sort();

      expect(await ids(`${marker}@acme.test`)).toEqual([byEmail.id]);
      expect(await ids(marker)).toEqual([byEmail.id, byName.id].sort());
      expect(await ids(`${marker}-subject`)).toEqual([bySubject.id]);
      expect(await ids(`%${marker}`)).toEqual([]);
    });

    it('pages through matching users newest first, each exactly once', async () => {
      const marker = unique('pager').replace('-', '');
      const made: string[] = [];
      for (let i = 0; i < 5; i++) {
        made.push((await insertUser(medium, { email: `${marker}-${i}@acme.test` })).id);
        medium.clock.advance(1);
      }
      const seen: string[] = [];
      let cursor: string | undefined;
      do {
        const page = await admin.list(marker, 2, cursor);
        seen.push(...page.items.map((u) => u.id));
        cursor = page.nextCursor ?? undefined;
      } while (cursor);
      expect(seen).toEqual(made.reverse());
    });
  });
});

describeOnDb(`AdminUsersService: the last admin, each test on a database of its own (${TEST_DB})`, () => {
  let medium: Medium;
  let admin: AdminUsersService;
  const rolesOf = async (id: string) => (await medium.database.run((manager) => manager.findOneByOrFail(User, { id }))).roles;

  beforeEach(async () => {
    medium = await startMedium([AdminModule]);
    admin = medium.get(AdminUsersService);
  });

  afterEach(async () => {
    await medium?.close();
  });

  it('the only admin can lose admin neither by a role change nor by being disabled or deleted (last_admin)', async () => {
    const only = await insertUser(medium, { roles: ADMIN });
    const { sessionId } = await startSession(medium, only);
    expect((await refusal(admin.update(only.id, { roles: ['user'] }, only.id, ctx))).code).toBe('last_admin');
    expect((await refusal(admin.update(only.id, { disabled: true }, only.id, ctx))).code).toBe('last_admin');
    expect((await refusal(admin.remove(only.id, only.id, ctx))).code).toBe('last_admin');
    expect(await rolesOf(only.id)).toEqual(ADMIN);
    expect((await medium.get(SessionsService).listActive(only.id)).map((s) => s.id)).toEqual([sessionId]);
    expect(await auditOf(medium, only.id)).toEqual([]);
    // Changes that keep them admin are fine.
    await admin.update(only.id, { roles: [...ADMIN, 'auditor'] }, only.id, ctx);
  });

  it('counts only enabled admins with the exact role `admin`, assigned or from a provider', async () => {
    const only = await insertUser(medium, { roles: ADMIN });
    await insertUser(medium, { roles: ADMIN, disabled: true });
    await insertUser(medium, { roles: ['user', 'ADMIN'] });
    await insertUser(medium, { roles: ['user', 'Admin'], providerRoles: ['administrator'] });
    expect((await refusal(admin.update(only.id, { roles: ['user'] }, only.id, ctx))).code).toBe('last_admin');

    await insertUser(medium, { providerRoles: ['admin'] });
    await admin.update(only.id, { roles: ['user'] }, only.id, ctx);
    expect(await rolesOf(only.id)).toEqual(['user']);
  });

  it('of two admins taking each other’s admin away at once, exactly one succeeds', async () => {
    const a = await insertUser(medium, { roles: ADMIN });
    const b = await insertUser(medium, { roles: ADMIN });
    const results = await Promise.allSettled([
      admin.update(a.id, { roles: ['user'] }, b.id, ctx),
      admin.update(b.id, { roles: ['user'] }, a.id, ctx),
    ]);
    expect(results.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
    expect(results.flatMap((r) => (r.status === 'rejected' ? [(r.reason as { code?: string }).code] : []))).toEqual(['last_admin']);
    expect([await rolesOf(a.id), await rolesOf(b.id)]).toContainEqual(ADMIN);
  });

  it('merging the only admin keeps an admin: into an enabled account it moves there, into a disabled one it is refused', async () => {
    const only = await insertUser(medium, { roles: ADMIN });
    const disabled = await insertUser(medium, { disabled: true });
    expect((await refusal(admin.merge(disabled.id, only.id, only.id, ctx))).code).toBe('last_admin');
    const plain = await insertUser(medium);
    await admin.merge(plain.id, only.id, only.id, ctx);
    expect(await rolesOf(plain.id)).toEqual(ADMIN);
  });
});
