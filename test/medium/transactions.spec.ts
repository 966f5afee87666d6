import { AccountsModule } from '../../src/accounts/accounts.module.js';
import { AccountsService } from '../../src/accounts/accounts.service.js';
import { AuditService } from '../../src/audit/audit.service.js';
import { Database } from '../../src/database/db.service.js';
import { RevocationsService } from '../../src/tokens/revocations.service.js';
import { SessionsService } from '../../src/tokens/sessions.service.js';
import { insertUser, startSession } from '../support/factories.js';
import { accepted, auditOf, describeOnTestDatabase, issueAccessToken, startMedium, TEST_DB, type Medium } from '../support/medium.js';

/**
 * The transaction travels in context (Database's AsyncLocalStorage), not as a parameter: services called inside
 * `Database.transaction` take part in it without being handed anything, so there is nothing to forget. Forgetting
 * used to mean, on SQLite, a hang (the call queued behind the very transaction waiting for it) and, on PostgreSQL, a
 * write on another pooled connection that a rollback did not take back. Shown here with the real services on both
 * databases, through their public methods only.
 */
const describeOnDb = await describeOnTestDatabase();

const ctx = { ip: '192.0.2.9', userAgent: 'medium-spec' };
/** A promise that has not settled by then is taken for a hang. */
const HANG_MS = 5_000;

class Rollback extends Error {}

async function settlesWithin<T>(work: Promise<T>, ms = HANG_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`still waiting after ${ms} ms: a hang`)), ms);
  });
  try {
    return await Promise.race([work, hung]);
  } finally {
    clearTimeout(timer);
  }
}

describeOnDb(`Transactions carried in context, on ${TEST_DB}`, () => {
  let medium: Medium;
  let database: Database;
  let audit: AuditService;
  let sessions: SessionsService;
  let revocations: RevocationsService;

  beforeAll(async () => {
    medium = await startMedium([AccountsModule]);
    database = medium.get(Database);
    audit = medium.get(AuditService);
    sessions = medium.get(SessionsService);
    revocations = medium.get(RevocationsService);
  });

  afterAll(async () => {
    await medium?.close();
  });

  /** A user with a session and an access token of it. */
  async function signedIn() {
    const user = await insertUser(medium);
    const { sessionId } = await startSession(medium, user);
    const token = await issueAccessToken(medium, { userId: user.id, sessionId, roles: ['user'] });
    return { user, sessionId, token };
  }

  it('services called inside a transaction join it: reads, writes and their own transactions, without a hang', async () => {
    const { user } = await signedIn();
    const seen = await settlesWithin(
      database.transaction(async () => {
        const found = await medium.get(AccountsService).findUser(user.id);
        await audit.record({ type: 'role_changed', userId: user.id, reason: 'inside' });
        // A read inside the transaction sees its own uncommitted write: on PostgreSQL only its connection can.
        const listed = await audit.list({ userId: user.id });
        // signOutEverywhere opens a transaction of its own: it joins this one.
        const ended = await sessions.signOutEverywhere(user.id, ctx);
        return { found: found?.id, listed: listed.items.map((e) => e.reason), ended };
      }),
    );
    expect(seen).toEqual({ found: user.id, listed: ['inside'], ended: 1 });
    expect(await sessions.listActive(user.id)).toEqual([]);
    expect((await auditOf(medium, user.id)).map((e) => e.reason)).toEqual(['inside', 'signed out everywhere']);
  });

  it('a rollback takes back every write made inside the transaction, by any service, however deep', async () => {
    const { user, token } = await signedIn();
    await expect(
      settlesWithin(
        database.transaction(async () => {
          await audit.record({ type: 'role_changed', userId: user.id, reason: 'rolled back' });
          // Its own transaction, joined: ends the sessions, publishes a revocation, audits.
          await sessions.signOutEverywhere(user.id, ctx);
          throw new Rollback('undo');
        }),
      ),
    ).rejects.toBeInstanceOf(Rollback);
    expect(await auditOf(medium, user.id)).toEqual([]);
    expect(await sessions.listActive(user.id)).toHaveLength(1);
    // Nor did the revocation reach the table the other instances read (nor this instance's lists: see below).
    await revocations.poll();
    expect(accepted(medium, token)).toBe(true);
    expect((await revocations.current()).subjects.filter((r) => r.subject === user.id)).toEqual([]);
  });

  it('after-commit work (the revocation lists in memory) runs when the transaction commits, never before, never on rollback', async () => {
    const kept = await signedIn();
    let beforeCommit: boolean | undefined;
    await database.transaction(async () => {
      await revocations.revokeUserTokens(kept.user.id);
      beforeCommit = accepted(medium, kept.token);
    });
    expect(beforeCommit).toBe(true);
    // At once, without waiting for the feed.
    expect(accepted(medium, kept.token)).toBe(false);

    const undone = await signedIn();
    await expect(
      database.transaction(async () => {
        await revocations.revokeUserTokens(undone.user.id);
        throw new Rollback('undo');
      }),
    ).rejects.toBeInstanceOf(Rollback);
    await revocations.poll();
    expect(accepted(medium, undone.token)).toBe(true);
  });

  it('another request’s write meanwhile is not part of the transaction: a rollback leaves it', async () => {
    const user = await insertUser(medium);
    let inside!: () => void;
    const started = new Promise<void>((resolve) => (inside = resolve));
    const rolledBack = database.transaction(async () => {
      await audit.record({ type: 'role_changed', userId: user.id, reason: 'rolled back' });
      inside();
      await new Promise((resolve) => setTimeout(resolve, 50));
      throw new Rollback('undo');
    });
    // Started from outside the transaction's async context, while it is open (on SQLite it waits its turn).
    await started;
    const meanwhile = audit.record({ type: 'role_changed', userId: user.id, reason: 'meanwhile' });
    await expect(rolledBack).rejects.toBeInstanceOf(Rollback);
    await settlesWithin(meanwhile);
    expect((await auditOf(medium, user.id)).map((e) => e.reason)).toEqual(['meanwhile']);
  });

  it('work a transaction left running after it ended is a unit of its own: it neither uses that connection nor lands in the next transaction', async () => {
    const user = await insertUser(medium);
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let late!: Promise<void>;
    await database.transaction(async () => {
      // Not awaited (a bug of the kind this guards against): it outlives the transaction, in its async context.
      late = gate.then(() => audit.record({ type: 'role_changed', userId: user.id, reason: 'late' }));
    });
    await expect(
      database.transaction(async () => {
        await audit.record({ type: 'role_changed', userId: user.id, reason: 'rolled back' });
        release();
        await new Promise((resolve) => setTimeout(resolve, 50));
        throw new Rollback('undo');
      }),
    ).rejects.toBeInstanceOf(Rollback);
    await settlesWithin(late);
    expect((await auditOf(medium, user.id)).map((e) => e.reason)).toEqual(['late']);
  });
});
