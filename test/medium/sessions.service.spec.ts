import { User } from '../../src/accounts/user.entity.js';
import { sha256 } from '../../src/common/crypto.js';
import { MetricsService } from '../../src/metrics/metrics.service.js';
import { RefreshToken } from '../../src/tokens/refresh-token.entity.js';
import { Session } from '../../src/tokens/session.entity.js';
import { SessionsService } from '../../src/tokens/sessions.service.js';
import { TokensModule } from '../../src/tokens/tokens.module.js';
import { insertUser, startSession } from '../support/factories.js';
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
 * SessionsService on a real database, with a clock the test moves: refresh-token rotation and reuse detection
 * (one transaction on both databases, and PostgreSQL's one-statement shortcut for an unused token: both must keep the
 * same rules), the idle and absolute lifetimes, and ending sessions.
 */
const describeOnDb = await describeOnTestDatabase();

const HOUR = 3_600_000;
const IDLE_TTL = HOUR;
const ABSOLUTE_TTL = 24 * HOUR;
const ctx = { ip: '198.51.100.4', userAgent: 'medium-spec' };

describeOnDb(`SessionsService on ${TEST_DB}`, () => {
  let medium: Medium;
  let sessions: SessionsService;
  const sessionRow = (id: string) => medium.database.run((manager) => manager.findOneByOrFail(Session, { id }));
  const tokensOf = (sessionId: string) => medium.database.run((manager) => manager.find(RefreshToken, { where: { sessionId } }));
  const reuses = async () => (await medium.get(MetricsService).refreshReuse.get()).values[0]?.value ?? 0;

  beforeAll(async () => {
    medium = await startMedium([TokensModule], {
      // Strict reuse detection here; the retry of a lost answer within REFRESH_REUSE_GRACE is tokens.e2e.ts's.
      env: { REFRESH_IDLE_TTL: String(IDLE_TTL / 1000), REFRESH_TOKEN_TTL: String(ABSOLUTE_TTL / 1000), REFRESH_REUSE_GRACE: '0' },
    });
    sessions = medium.get(SessionsService);
  });

  afterAll(async () => {
    await medium?.close();
  });

  describe('refresh tokens', () => {
    it('R1: each use returns a successor in the same session, with the user’s roles as they are now', async () => {
      const user = await insertUser(medium, { roles: ['user'], providerRoles: ['developer'] });
      const { sessionId, refreshToken } = await startSession(medium, user);
      const first = await sessions.rotate(refreshToken, ctx);
      expect(first.session).toEqual({ id: sessionId, userId: user.id });
      expect(first.refreshToken).not.toBe(refreshToken);
      expect(first.roles).toEqual(['user', 'developer']);
      await medium.database.run((manager) => manager.update(User, { id: user.id }, { roles: ['user', 'auditor'] }));
      const second = await sessions.rotate(first.refreshToken, ctx);
      expect(second.roles).toEqual(['user', 'auditor', 'developer']);
      expect((await tokensOf(sessionId)).map((t) => t.usedAt === null).sort()).toEqual([false, false, true]);
    });

    it('R1: a spent token presented again ends the whole session: its successor and its access tokens, audited once', async () => {
      const user = await insertUser(medium);
      const { sessionId, refreshToken } = await startSession(medium, user);
      const next = await sessions.rotate(refreshToken, ctx);
      const access = await issueAccessToken(medium, { userId: user.id, sessionId, roles: ['user'] });
      const counted = await reuses();

      expect((await refusal(sessions.rotate(refreshToken, ctx))).code).toBe('invalid_grant');
      expect(await sessionRow(sessionId)).toMatchObject({ revokedAt: medium.clock.now(), revokedReason: 'refresh_token_reused' });
      expect((await refusal(sessions.rotate(next.refreshToken, ctx))).code).toBe('invalid_grant');
      expect(accepted(medium, access)).toBe(false);
      expect(await reuses()).toBe(counted + 1);
      expect((await auditOf(medium, user.id)).filter((e) => e.type === 'refresh_token_reused')).toEqual([
        expect.objectContaining({ reason: 'session revoked', details: { sessionId } }),
      ]);
    });

    it('answers an unknown token as it answers a spent one, and ends nothing for it', async () => {
      const user = await insertUser(medium);
      const { sessionId, refreshToken } = await startSession(medium, user);
      await sessions.rotate(refreshToken, ctx);
      const spent = await refusal(sessions.rotate(refreshToken, ctx));
      const unknown = await refusal(sessions.rotate('B'.repeat(43), ctx));
      expect([unknown.code, unknown.message]).toEqual([spent.code, spent.message]);
      expect((await sessionRow(sessionId)).revokedReason).toBe('refresh_token_reused');

      const bystander = await startSession(medium, user);
      await refusal(sessions.rotate('C'.repeat(43), ctx));
      expect((await sessionRow(bystander.sessionId)).revokedAt).toBeNull();
    });

    it('R3: of 20 concurrent uses of one token, exactly one gets a successor', async () => {
      const user = await insertUser(medium);
      const { sessionId, refreshToken } = await startSession(medium, user);
      const results = await Promise.allSettled(Array.from({ length: 20 }, () => sessions.rotate(refreshToken, ctx)));
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      const codes = results.flatMap((r) => (r.status === 'rejected' ? [(r.reason as { code?: string }).code] : []));
      expect(codes).toEqual(Array(19).fill('invalid_grant'));
      expect(await tokensOf(sessionId)).toHaveLength(2);
    });

    it('S5: keeps refresh tokens only as SHA-256 hashes', async () => {
      const user = await insertUser(medium);
      const { sessionId, refreshToken } = await startSession(medium, user);
      const stored = await tokensOf(sessionId);
      expect(stored.map((t) => t.tokenHash)).toEqual([sha256(refreshToken)]);
      expect(JSON.stringify([stored, await sessionRow(sessionId)])).not.toContain(refreshToken);
    });

    it('refuses while the user is disabled without spending the token, so both implementations agree', async () => {
      const user = await insertUser(medium);
      const { sessionId, refreshToken } = await startSession(medium, user);
      await medium.database.run((manager) => manager.update(User, { id: user.id }, { disabled: true }));
      expect((await refusal(sessions.rotate(refreshToken, ctx))).code).toBe('invalid_grant');
      expect((await tokensOf(sessionId)).map((t) => t.usedAt)).toEqual([null]);
      expect((await sessionRow(sessionId)).revokedAt).toBeNull();
      await medium.database.run((manager) => manager.update(User, { id: user.id }, { disabled: false }));
      await expect(sessions.rotate(refreshToken, ctx)).resolves.toMatchObject({ session: { id: sessionId } });
    });
  });

  describe('lifetimes, with the clock moved by hand', () => {
    it('R2: idle: a token unused for REFRESH_IDLE_TTL is refused, one used just before still works; expiry is not reuse', async () => {
      const user = await insertUser(medium);
      const { sessionId, refreshToken } = await startSession(medium, user);
      medium.clock.advance(IDLE_TTL - 1);
      const next = await sessions.rotate(refreshToken, ctx);
      expect((await sessionRow(sessionId)).lastUsedAt).toBe(medium.clock.now());
      medium.clock.advance(IDLE_TTL);
      expect((await refusal(sessions.rotate(next.refreshToken, ctx))).code).toBe('invalid_grant');
      expect(await sessionRow(sessionId)).toMatchObject({ revokedAt: null, revokedReason: null });
      expect((await tokensOf(sessionId)).filter((t) => t.usedAt === null)).toHaveLength(1);
      expect(await sessions.listActive(user.id)).toEqual([]);
      expect(await sessions.touchIfActive(sessionId, user.id)).toBeUndefined();
    });

    it('R2: absolute: REFRESH_TOKEN_TTL after sign-in the session ends, however often it was used', async () => {
      const user = await insertUser(medium);
      const started = medium.clock.now();
      let { refreshToken } = await startSession(medium, user);
      while (medium.clock.now() + IDLE_TTL / 2 < started + ABSOLUTE_TTL) {
        medium.clock.advance(IDLE_TTL / 2);
        ({ refreshToken } = await sessions.rotate(refreshToken, ctx));
      }
      medium.clock.advance(started + ABSOLUTE_TTL - 1 - medium.clock.now());
      ({ refreshToken } = await sessions.rotate(refreshToken, ctx));
      medium.clock.advance(1);
      expect((await refusal(sessions.rotate(refreshToken, ctx))).code).toBe('invalid_grant');
    });

    it('a browser session kept in use outlives its first idle end; touching another user’s session does nothing', async () => {
      const user = await insertUser(medium);
      const stranger = await insertUser(medium);
      const browser = await sessions.startBrowserSession(user.id, null, ctx);
      medium.clock.advance(IDLE_TTL - 1);
      expect(await sessions.touchIfActive(browser.id, user.id)).toMatchObject({ id: browser.id, lastUsedAt: medium.clock.now() });
      medium.clock.advance(IDLE_TTL - 1);
      expect(await sessions.touchIfActive(browser.id, stranger.id)).toBeUndefined();
      expect(await sessions.touchIfActive(browser.id, user.id)).toBeDefined();
      medium.clock.advance(IDLE_TTL);
      expect(await sessions.touchIfActive(browser.id, user.id)).toBeUndefined();
    });
  });

  describe('ending sessions', () => {
    it('revoke ends one session and its access tokens, once, audited with who did it', async () => {
      const user = await insertUser(medium);
      const ended = await startSession(medium, user);
      const kept = await startSession(medium, user);
      const endedToken = await issueAccessToken(medium, { userId: user.id, sessionId: ended.sessionId, roles: [] });
      const keptToken = await issueAccessToken(medium, { userId: user.id, sessionId: kept.sessionId, roles: [] });
      expect(await sessions.revoke(ended.sessionId, 'logout', { actorId: user.id, ctx })).toBe(true);
      expect(await sessions.revoke(ended.sessionId, 'logout', { actorId: user.id, ctx })).toBe(false);
      expect([accepted(medium, endedToken), accepted(medium, keptToken)]).toEqual([false, true]);
      expect((await refusal(sessions.rotate(ended.refreshToken, ctx))).code).toBe('invalid_grant');
      expect((await auditOf(medium, user.id)).filter((e) => e.type === 'session_revoked')).toEqual([
        expect.objectContaining({ reason: 'logout', actorId: user.id, details: { sessionId: ended.sessionId } }),
      ]);
    });

    it('an app’s logout also ends the browser session it was signed in through, and no other', async () => {
      const user = await insertUser(medium);
      const browser = await sessions.startBrowserSession(user.id, null, ctx);
      const app = await startSession(medium, user, { browserSessionId: browser.id });
      const elsewhere = await startSession(medium, user);
      await sessions.logout(app.sessionId, { actorId: user.id, ctx });
      expect((await sessions.listActive(user.id)).map((s) => s.id)).toEqual([elsewhere.sessionId]);
      expect((await sessionRow(browser.id)).revokedReason).toBe('logout');
    });

    it('signing out everywhere ends every active session and every access token of the user, counted and audited', async () => {
      const user = await insertUser(medium);
      const other = await insertUser(medium);
      const a = await startSession(medium, user);
      await startSession(medium, user);
      const already = await startSession(medium, user);
      await sessions.revoke(already.sessionId, 'logout');
      const othersSession = await startSession(medium, other);
      const token = await issueAccessToken(medium, { userId: user.id, sessionId: a.sessionId, roles: [] });

      expect(await sessions.signOutEverywhere(user.id, ctx)).toBe(2);
      expect(await sessions.listActive(user.id)).toEqual([]);
      expect(accepted(medium, token)).toBe(false);
      expect((await sessions.listActive(other.id)).map((s) => s.id)).toEqual([othersSession.sessionId]);
      expect((await auditOf(medium, user.id)).at(-1)).toMatchObject({
        type: 'session_revoked',
        actorId: user.id,
        reason: 'signed out everywhere',
        details: { count: 2 },
      });
      // A sign-in afterwards starts a session whose tokens work.
      const fresh = await startSession(medium, user);
      expect(accepted(medium, await issueAccessToken(medium, { userId: user.id, sessionId: fresh.sessionId, roles: [] }))).toBe(true);
    });

    it('lists the active sessions newest first', async () => {
      const user = await insertUser(medium);
      const older = await startSession(medium, user);
      medium.clock.advance(1000);
      const newer = await startSession(medium, user);
      medium.clock.advance(1000);
      const revoked = await startSession(medium, user);
      await sessions.revoke(revoked.sessionId, 'logout');
      expect((await sessions.listActive(user.id)).map((s) => s.id)).toEqual([newer.sessionId, older.sessionId]);
    });
  });
});
