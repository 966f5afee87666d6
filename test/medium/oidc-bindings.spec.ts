import { Module } from '@nestjs/common';
import type { AdapterPayload } from 'oidc-provider';
import { OidcRepository } from '../../src/oidc/oidc.repository.js';
import { SessionsService } from '../../src/tokens/sessions.service.js';
import { TokensModule } from '../../src/tokens/tokens.module.js';
import { insertUser, startSession } from '../support/factories.js';
import { describeOnTestDatabase, startMedium, TEST_DB, type Medium } from '../support/medium.js';

/**
 * The OpenID Provider's hourly purge (OidcRepository.purgeExpired, run by OidcProviderService's timer) on a real
 * database: the bindings to sessions of ours that are long gone go, with the grants bound to them; bindings of active
 * sessions, or of sessions ended within the grace (back-channel logout still reads them), stay.
 */
@Module({ imports: [TokensModule], providers: [OidcRepository], exports: [OidcRepository] })
class OidcBindingsModule {}

const describeOnDb = await describeOnTestDatabase();
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

describeOnDb(`OpenID Provider bindings purge on ${TEST_DB}`, () => {
  let medium: Medium;
  let repo: OidcRepository;

  beforeAll(async () => {
    medium = await startMedium([OidcBindingsModule], { env: { REFRESH_IDLE_TTL: String(HOUR / 1000) } });
    repo = medium.get(OidcRepository);
  });

  afterAll(async () => {
    await medium?.close();
  });

  const bindGrant = async (grantId: string, sessionId: string, userId: string) => {
    await repo.addGrantSession({ grant_id: grantId, session_id: sessionId, client_id: 'svc-app', user_id: userId, oidcSid: null });
    await repo.upsert('Grant', grantId, { accountId: userId, clientId: 'svc-app' } as AdapterPayload, 3600);
    await repo.upsert('RefreshToken', `rt-${grantId}`, { grantId, accountId: userId, clientId: 'svc-app' } as AdapterPayload, 3600);
  };
  const kept = async (grantId: string) => ({
    binding: (await repo.grantSession(grantId)) !== undefined,
    grant: (await repo.find('Grant', grantId)) !== undefined,
    refreshToken: (await repo.find('RefreshToken', `rt-${grantId}`)) !== undefined,
  });
  const all = { binding: true, grant: true, refreshToken: true };
  const none = { binding: false, grant: false, refreshToken: false };

  it('purges the bindings (and their grants) of sessions revoked, idle or deleted more than a day ago, and keeps the rest', async () => {
    const sessions = medium.get(SessionsService);
    const user = await insertUser(medium);
    // Three days ago: one session revoked the next day, one never used again (idle lifetime: an hour).
    medium.clock.advance(-3 * DAY);
    const revokedLongAgo = await startSession(medium, user);
    const idle = await startSession(medium, user);
    medium.clock.advance(DAY);
    await sessions.revoke(revokedLongAgo.sessionId, 'logout');
    medium.clock.advance(2 * DAY);
    // Now: one active, one just revoked (within the grace).
    const active = await startSession(medium, user);
    const revokedNow = await startSession(medium, user);
    await sessions.revoke(revokedNow.sessionId, 'logout');

    await bindGrant('g-revoked-long-ago', revokedLongAgo.sessionId, user.id);
    await bindGrant('g-idle', idle.sessionId, user.id);
    await bindGrant('g-active', active.sessionId, user.id);
    await bindGrant('g-revoked-now', revokedNow.sessionId, user.id);
    await bindGrant('g-deleted', '00000000-0000-4000-8000-000000000000', user.id);
    await repo.bindBrowserSession('op-revoked-long-ago', revokedLongAgo.sessionId, user.id);
    await repo.bindBrowserSession('op-active', active.sessionId, user.id);
    await repo.bindBrowserSession('op-deleted', '00000000-0000-4000-8000-000000000001', user.id);

    await repo.purgeExpired(HOUR);

    expect({
      revokedLongAgo: await kept('g-revoked-long-ago'),
      idle: await kept('g-idle'),
      deleted: await kept('g-deleted'),
      active: await kept('g-active'),
      revokedNow: await kept('g-revoked-now'),
    }).toEqual({ revokedLongAgo: none, idle: none, deleted: none, active: all, revokedNow: all });
    expect({
      revokedLongAgo: await repo.browserSessionOf('op-revoked-long-ago'),
      active: await repo.browserSessionOf('op-active'),
      deleted: await repo.browserSessionOf('op-deleted'),
    }).toEqual({ revokedLongAgo: undefined, active: { browserSessionId: active.sessionId, userId: user.id }, deleted: undefined });
  });
});
