import { AuditEvent } from '../../src/audit/audit-event.entity.js';
import { ApiClient } from '../../src/clients/api-client.entity.js';
import { ClientsModule } from '../../src/clients/clients.module.js';
import { ClientsService } from '../../src/clients/clients.service.js';
import { sha256 } from '../../src/common/crypto.js';
import { accepted, describeOnTestDatabase, issueAccessToken, refusal, startMedium, TEST_DB, type Medium } from '../support/medium.js';

/**
 * ClientsService on a real database, with a clock the test moves: secrets kept only as hashes, rotation with a grace
 * period for the previous secret, and the changes that end a client's access tokens.
 */
const describeOnDb = await describeOnTestDatabase();

const GRACE_S = 3600;
const ctx = { ip: '203.0.113.20', userAgent: 'medium-spec' };
const ADMIN_ID = 'admin-of-clients';

describeOnDb(`ClientsService on ${TEST_DB}`, () => {
  let medium: Medium;
  let clients: ClientsService;
  const authenticates = async (clientId: string, secret: string) => (await clients.authenticate(clientId, secret, ctx)) !== undefined;
  const tokenFor = (c: { client_id: string; roles: string[]; scopes: string[] }) =>
    issueAccessToken(medium, { clientId: c.client_id, roles: c.roles, scopes: c.scopes });
  /** The audit rows about one client, oldest first. */
  const auditOf = async (clientId: string) => {
    const rows = await medium.database.run((manager) => manager.find(AuditEvent, { order: { id: 'ASC' } }));
    return rows.filter((e) => e.details?.clientId === clientId).map((e) => ({ type: e.type, actorId: e.actorId, details: e.details }));
  };

  beforeAll(async () => {
    medium = await startMedium([ClientsModule], { env: { CLIENT_SECRET_GRACE_PERIOD: String(GRACE_S) } });
    clients = medium.get(ClientsService);
  });

  afterAll(async () => {
    await medium?.close();
  });

  it('shows the secret once, at creation, and keeps only its SHA-256', async () => {
    const created = await clients.create({ name: 'Reports', roles: ['reports', 'reports'], scopes: ['reports:read'] }, ADMIN_ID, ctx);
    expect(created).toMatchObject({ name: 'Reports', roles: ['reports'], scopes: ['reports:read'], disabled: false });
    const row = await medium.database.run((manager) => manager.findOneByOrFail(ApiClient, { clientId: created.client_id }));
    expect(row.secretHash).toBe(sha256(created.client_secret));
    expect(JSON.stringify(row)).not.toContain(created.client_secret);
    const { client_secret: _shown, ...view } = created;
    expect(await clients.get(created.client_id)).toEqual(view);
    expect(await clients.list()).toContainEqual(view);
    expect(await auditOf(created.client_id)).toEqual([
      {
        type: 'client_created',
        actorId: ADMIN_ID,
        details: { clientId: created.client_id, name: 'Reports', roles: ['reports'], scopes: ['reports:read'] },
      },
    ]);
  });

  it('authenticates the right secret only; a wrong one for a known client is audited, an unknown client is not', async () => {
    const { client_id, client_secret } = await clients.create({ name: 'Billing' }, ADMIN_ID, ctx);
    expect(await authenticates(client_id, client_secret)).toBe(true);
    expect(await authenticates(client_id, `${client_secret}x`)).toBe(false);
    expect(await authenticates('svc-unknown', client_secret)).toBe(false);
    expect((await auditOf(client_id)).filter((e) => e.type === 'client_auth_failed')).toEqual([
      { type: 'client_auth_failed', actorId: client_id, details: { clientId: client_id } },
    ]);
    expect(await auditOf('svc-unknown')).toEqual([]);
  });

  describe('secret rotation', () => {
    it('keeps the previous secret for the grace period (CLIENT_SECRET_GRACE_PERIOD), then only the new one works', async () => {
      const { client_id, client_secret: old } = await clients.create({ name: 'Deploys' }, ADMIN_ID, ctx);
      const rotated = await clients.rotateSecret(client_id, undefined, ADMIN_ID, ctx);
      const graceEnd = medium.clock.now() + GRACE_S * 1000;
      expect(rotated.previous_secret_expires_at).toBe(new Date(graceEnd).toISOString());
      expect([await authenticates(client_id, old), await authenticates(client_id, rotated.client_secret)]).toEqual([true, true]);

      medium.clock.advance(GRACE_S * 1000 - 1);
      expect(await authenticates(client_id, old)).toBe(true);
      medium.clock.advance(1);
      expect([await authenticates(client_id, old), await authenticates(client_id, rotated.client_secret)]).toEqual([false, true]);
      expect((await clients.get(client_id)).previous_secret_expires_at).toBeNull();
      expect((await auditOf(client_id)).find((e) => e.type === 'client_secret_rotated')?.details).toEqual({
        clientId: client_id,
        gracePeriod: GRACE_S,
      });
    });

    it('with a grace period of 0 ends the old secret at once (a leaked secret); tokens already issued stay valid', async () => {
      const created = await clients.create({ name: 'Leaky', roles: ['reports'] }, ADMIN_ID, ctx);
      const token = await tokenFor(created);
      const rotated = await clients.rotateSecret(created.client_id, 0, ADMIN_ID, ctx);
      expect(rotated.previous_secret_expires_at).toBeNull();
      expect([
        await authenticates(created.client_id, created.client_secret),
        await authenticates(created.client_id, rotated.client_secret),
      ]).toEqual([false, true]);
      expect(accepted(medium, token)).toBe(true);
    });

    it('keeps only one previous secret: a second rotation within the grace period ends the first secret', async () => {
      const { client_id, client_secret: first } = await clients.create({ name: 'Twice' }, ADMIN_ID, ctx);
      const second = await clients.rotateSecret(client_id, 600, ADMIN_ID, ctx);
      medium.clock.advance(1000);
      const third = await clients.rotateSecret(client_id, 600, ADMIN_ID, ctx);
      expect(await Promise.all([first, second.client_secret, third.client_secret].map((s) => authenticates(client_id, s)))).toEqual([
        false,
        true,
        true,
      ]);
    });
  });

  describe('changes', () => {
    it('a role or scope taken away, or disabling, ends the client’s access tokens; renaming or adding does not', async () => {
      const created = await clients.create({ name: 'Sync', roles: ['reports', 'exports'], scopes: ['a', 'b'] }, ADMIN_ID, ctx);
      const { client_id } = created;
      const ends = async (change: Parameters<ClientsService['update']>[1]) => {
        const before = await tokenFor(await clients.get(client_id));
        const after = await clients.update(client_id, change, ADMIN_ID, ctx);
        return { ended: !accepted(medium, before), after };
      };
      expect(await ends({ name: 'Sync v2', roles: ['reports', 'exports', 'audit'], scopes: ['a', 'b', 'c'] })).toMatchObject({
        ended: false,
        after: { name: 'Sync v2', roles: ['reports', 'exports', 'audit'] },
      });
      expect((await ends({ roles: ['reports', 'audit'] })).ended).toBe(true);
      expect((await ends({ scopes: ['a', 'c'] })).ended).toBe(true);
      expect((await ends({ disabled: true })).ended).toBe(true);
      expect((await ends({ disabled: false })).ended).toBe(false);
      expect((await auditOf(client_id)).map((e) => e.type)).toEqual([
        'client_created',
        'client_updated',
        'client_updated',
        'client_updated',
        'client_disabled',
        'client_enabled',
      ]);
    });

    it('deleting ends the client: its secret, its tokens and its record', async () => {
      const created = await clients.create({ name: 'Gone', roles: ['reports'] }, ADMIN_ID, ctx);
      const token = await tokenFor(created);
      await clients.remove(created.client_id, ADMIN_ID, ctx);
      expect(await authenticates(created.client_id, created.client_secret)).toBe(false);
      expect(accepted(medium, token)).toBe(false);
      expect((await refusal(clients.get(created.client_id))).code).toBe('not_found');
      expect((await auditOf(created.client_id)).at(-1)).toEqual({
        type: 'client_deleted',
        actorId: ADMIN_ID,
        details: { clientId: created.client_id, name: 'Gone' },
      });
    });

    it('answers not_found for a client that does not exist, whatever the change', async () => {
      expect((await refusal(clients.update('svc-none', { name: 'x' }, ADMIN_ID, ctx))).code).toBe('not_found');
      expect((await refusal(clients.rotateSecret('svc-none', 0, ADMIN_ID, ctx))).code).toBe('not_found');
      expect((await refusal(clients.remove('svc-none', ADMIN_ID, ctx))).code).toBe('not_found');
      expect(await auditOf('svc-none')).toEqual([]);
    });
  });
});
