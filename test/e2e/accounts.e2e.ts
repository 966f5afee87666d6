import { randomUUID } from 'node:crypto';
import { jest } from '@jest/globals';
import { AuditService } from '../../src/audit/audit.service.js';
import { DataSource } from 'typeorm';
import { isAdmin } from '../../src/accounts/roles.js';
import { User } from '../../src/accounts/user.entity.js';
import { TestBrowser, formAction } from '../support/browser.js';
import { insertUser, insertUsers } from '../support/factories.js';
import { callApi, browserSignIn, completeAtProvider, getJson, postJson, signInAndGetTokens } from '../support/sign-in.js';
import { startWorld, type World } from '../support/world.js';

let world: World;
let url: string;
let adminToken: string;

/** Signs in through a browser, which then holds the service's browser session (the one a link URL must be opened in). */
const signIn = async (provider: string, login: string, browser = new TestBrowser()) => ({
  ...(await signInAndGetTokens(browser, url, provider, { login })),
  browser,
});
const call = (method: string, path: string, token?: string, body?: unknown) => callApi(url, method, path, token, body);
const auditOf = async (userId: string) =>
  (await call('GET', `/admin/audit?userId=${userId}&limit=100`, adminToken)).body.items as Record<string, any>[];

/** The browser is back at the built-in page with a code or an error. */
function isBack(u: string) {
  const at = new URL(u);
  return (
    at.origin === new URL(world.service.publicUrl).origin &&
    at.pathname === '/' &&
    (at.searchParams.has('code') || at.searchParams.has('error'))
  );
}

/**
 * Follows a link URL from POST /me/identities/:provider/link through the provider, back to the built-in page, in
 * `browser` (the requester's own, unless a test says otherwise).
 */
async function followLink(browser: TestBrowser, linkUrl: string, login: string) {
  return (await completeAtProvider(browser, linkUrl.replace(world.service.publicUrl, url), isBack, { login })).result;
}

beforeAll(async () => {
  world = await startWorld({
    ADMIN_EMAILS: 'root@corp.test,chief@corp.test',
    OIDC_CORP_SCOPES: 'openid email profile groups',
    OIDC_CORP_ROLES_CLAIM: 'groups',
    OIDC_CORP_ROLE_MAP: 'devs:developer,ops:admin,ops:operator',
  });
  url = world.service.url;
  world.corp.accounts.set('root', { email: 'root@corp.test', email_verified: true, name: 'Root' });
  adminToken = (await signIn('corp', 'root')).tokens.access_token;
});

afterAll(async () => {
  await world?.close();
});

afterEach(() => {
  expect(world.service.serverErrors).toEqual([]);
});

describe('linking while signed in', () => {
  it('links a second provider; signing in with either reaches the same user, and both are audited with their rule', async () => {
    const first = await signIn('acme', 'lin');
    const link = await postJson(`${url}/me/identities/facebook/link`, {}, { authorization: `Bearer ${first.tokens.access_token}` });
    expect(link.status).toBe(200);
    expect(link.body.url).toMatch(new RegExp(`^${world.service.publicUrl}/auth/facebook/login\\?link_ticket=`));
    const back = await followLink(first.browser, link.body.url as string, 'lin-fb');
    expect(back.searchParams.get('code')).toBeTruthy();
    const viaFacebook = await signIn('facebook', 'lin-fb');
    expect(viaFacebook.me.id).toBe(first.me.id);
    expect(viaFacebook.me.identities.map((i: { provider: string }) => i.provider)).toEqual(['acme', 'facebook']);
    const events = await auditOf(first.me.id);
    expect(events).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ type: 'identity_linked', provider: 'facebook', reason: 'link_requested' }),
        expect.objectContaining({ type: 'account_created', provider: 'acme', reason: 'new_account_auto_link_off' }),
        expect.objectContaining({ type: 'sign_in', provider: 'facebook', reason: 'existing_identity' }),
      ]),
    );
  });

  it('links a second account of the same provider (another subject)', async () => {
    const first = await signIn('acme', 'two-a');
    const link = await postJson(`${url}/me/identities/acme/link`, {}, { authorization: `Bearer ${first.tokens.access_token}` });
    // Signed out at the provider (its cookies gone), so it asks who is signing in.
    for (const name of [...first.browser.cookies('127.0.0.1').keys()])
      if (name.startsWith('_')) first.browser.cookies('127.0.0.1').delete(name);
    await followLink(first.browser, link.body.url as string, 'two-b');
    const me = await getJson(`${url}/me`, first.tokens.access_token);
    expect((me.body.identities as { subject: string }[]).map((i) => i.subject)).toEqual(['two-a', 'two-b']);
  });

  it('refuses an identity that belongs to another user, and never moves it', async () => {
    const owner = await signIn('acme', 'owner');
    const other = await signIn('corp', 'thief');
    const link = await postJson(`${url}/me/identities/acme/link`, {}, { authorization: `Bearer ${other.tokens.access_token}` });
    const back = await followLink(other.browser, link.body.url as string, 'owner');
    expect(back.searchParams.get('error')).toBe('identity_already_linked');
    expect((await signIn('acme', 'owner')).me.id).toBe(owner.me.id);
    expect(await auditOf(other.me.id)).toEqual(
      expect.arrayContaining([expect.objectContaining({ type: 'link_refused', provider: 'acme', reason: 'identity_already_linked' })]),
    );
  });

  it('L1: a link URL opened in a fresh browser links nothing, grants nothing, changes no email and gives no code', async () => {
    // The victim's corporate identity: a verified email in ADMIN_EMAILS and a group mapped to admin.
    world.corp.accounts.set('chief', { email: 'chief@corp.test', email_verified: true, groups: ['ops'] });
    const attacker = await signIn('acme', 'mallory');
    const before = (await getJson(`${url}/me`, attacker.tokens.access_token)).body;
    const link = await postJson(`${url}/me/identities/corp/link`, {}, { authorization: `Bearer ${attacker.tokens.access_token}` });
    const victimBrowser = new TestBrowser();
    const back = await followLink(victimBrowser, link.body.url as string, 'chief');
    // Refused before the provider is ever asked: the browser comes straight back with the reason, and no code.
    expect(back.searchParams.get('error')).toBe('not_logged_in');
    expect(back.searchParams.has('code')).toBe(false);
    expect((await getJson(`${url}/me`, attacker.tokens.access_token)).body).toEqual(before);
    expect(before.roles).toEqual(['user']);
    // The victim's own sign-in lands in an account of their own, the admin one ADMIN_EMAILS gives them.
    const victim = await signIn('corp', 'chief', victimBrowser);
    expect(victim.me.id).not.toBe(attacker.me.id);
    expect(victim.me.roles).toContain('admin');
    expect(await auditOf(attacker.me.id)).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ type: 'link_refused', provider: 'corp', reason: 'no_browser_session', actorId: null }),
      ]),
    );
    // Admins by provider roles would spoil the last-admin test below.
    expect((await call('DELETE', `/admin/users/${victim.me.id}`, adminToken)).status).toBe(204);
  });

  it('L1: a link URL opened in another signed-in user’s browser is refused, and audited with that user as actor', async () => {
    world.corp.accounts.set('vicky-corp', { email: 'vicky@corp.test', email_verified: true, groups: ['ops'] });
    const attacker = await signIn('acme', 'mallory2');
    const victim = await signIn('google', 'vicky');
    const link = await postJson(`${url}/me/identities/corp/link`, {}, { authorization: `Bearer ${attacker.tokens.access_token}` });
    const back = await followLink(victim.browser, link.body.url as string, 'vicky-corp');
    expect(back.searchParams.get('error')).toBe('not_logged_in');
    expect(back.searchParams.has('code')).toBe(false);
    const attackerNow = (await getJson(`${url}/me`, attacker.tokens.access_token)).body;
    expect(attackerNow).toMatchObject({ roles: ['user'], identities: [expect.objectContaining({ provider: 'acme' })] });
    expect(attackerNow.identities).toHaveLength(1);
    const victimViaCorp = await signIn('corp', 'vicky-corp');
    expect(victimViaCorp.me.id).not.toBe(attacker.me.id);
    expect((await call('DELETE', `/admin/users/${victimViaCorp.me.id}`, adminToken)).status).toBe(204);
    expect(await auditOf(attacker.me.id)).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ type: 'link_refused', reason: 'browser_session_of_another_user', actorId: victim.me.id }),
      ]),
    );
  });

  it('L1: a link whose browser session ends before the provider answers links nothing', async () => {
    const user = await signIn('acme', 'quitter');
    const link = await postJson(`${url}/me/identities/corp/link`, {}, { authorization: `Bearer ${user.tokens.access_token}` });
    const start = await user.browser.request((link.body.url as string).replace(world.service.publicUrl, url));
    expect(start.status).toBe(302);
    expect(start.headers.get('location')).toContain(world.corp.issuer);
    // Signed out everywhere while at the provider: the browser's session is over when the callback comes.
    expect((await call('DELETE', '/me/sessions', user.tokens.access_token)).status).toBe(200);
    const atProvider = await user.browser.follow(start.headers.get('location')!, isBack);
    const back = await user.browser.follow(formAction(atProvider.last, '/login'), isBack, {
      method: 'POST',
      form: { login: 'quitter-corp' },
    });
    expect(new URL(back.stoppedAt!).searchParams.get('error')).toBe('not_logged_in');
    expect(new URL(back.stoppedAt!).searchParams.has('code')).toBe(false);
    const fresh = await signIn('acme', 'quitter');
    expect(fresh.me.identities.map((i: { provider: string }) => i.provider)).toEqual(['acme']);
  });

  it('answers a link URL with an error redirect, not a 500, while the database cannot be written', async () => {
    // SQLite locked by another writer; postgres.e2e.ts cuts PostgreSQL away for the same check.
    if (!world.service.databaseUrl.startsWith('sqlite:')) return;
    const user = await signIn('acme', 'locked-out');
    const link = await postJson(`${url}/me/identities/corp/link`, {}, { authorization: `Bearer ${user.tokens.access_token}` });
    const { default: Database } = await import('better-sqlite3');
    const db = new Database(world.service.databaseUrl.slice('sqlite:'.length));
    db.exec('BEGIN EXCLUSIVE');
    try {
      const start = await user.browser.request((link.body.url as string).replace(world.service.publicUrl, url));
      expect(start.status).toBe(302);
      expect(new URL(start.headers.get('location')!).searchParams.get('error')).toBe('temporarily_unavailable');
    } finally {
      db.exec('ROLLBACK');
      db.close();
    }
  });

  it('L1: a link refusal that cannot be recorded (database busy) still ends at returnTo, with no code', async () => {
    const attacker = await signIn('acme', 'mallory3');
    const link = await postJson(`${url}/me/identities/corp/link`, {}, { authorization: `Bearer ${attacker.tokens.access_token}` });
    const busy = Object.assign(new Error('database is locked'), { code: 'SQLITE_BUSY' });
    const audit = jest.spyOn(world.service.app.get(AuditService), 'record').mockRejectedValueOnce(busy);
    try {
      const start = await new TestBrowser().request((link.body.url as string).replace(world.service.publicUrl, url));
      expect(start.status).toBe(302);
      const back = new URL(start.headers.get('location')!);
      expect(`${back.origin}${back.pathname}`).toBe(`${world.service.publicUrl}/`);
      expect(back.searchParams.get('error')).toBe('temporarily_unavailable');
      expect(back.searchParams.has('code')).toBe(false);
    } finally {
      audit.mockRestore();
    }
  });

  it('an app’s logout signs its browser out of the service too (a shared computer), with the refresh token or the bearer', async () => {
    for (const how of ['refresh_token', 'bearer'] as const) {
      const user = await signIn('acme', `shared-${how}`);
      expect((await user.browser.request(`${url}/account`)).status).toBe(200);
      const res =
        how === 'refresh_token'
          ? await postJson(`${url}/auth/logout`, { refresh_token: user.tokens.refresh_token })
          : await postJson(`${url}/auth/logout`, {}, { authorization: `Bearer ${user.tokens.access_token}` });
      expect(res.status).toBe(204);
      const after = await user.browser.request(`${url}/account`);
      expect(after.status).toBe(303);
      expect(after.headers.get('location')).toBe('/');
      // Nothing of the browser's is left to link with either.
      const fresh = await signIn('acme', `other-${how}`);
      const link = await postJson(`${url}/me/identities/corp/link`, {}, { authorization: `Bearer ${fresh.tokens.access_token}` });
      expect((await followLink(user.browser, link.body.url as string, 'x')).searchParams.get('error')).toBe('not_logged_in');
    }
  });

  it('L1: a link URL opened first where it is refused (a link preview, another browser) still works once for its requester', async () => {
    const user = await signIn('acme', 'previewed');
    const link = await postJson(`${url}/me/identities/corp/link`, {}, { authorization: `Bearer ${user.tokens.access_token}` });
    const linkUrl = (link.body.url as string).replace(world.service.publicUrl, url);
    for (const method of ['HEAD', 'GET']) {
      const preview = await new TestBrowser().request(linkUrl, { method });
      expect(new URL(preview.headers.get('location')!).searchParams.get('error')).toBe('not_logged_in');
    }
    const back = await followLink(user.browser, link.body.url as string, 'previewed-corp');
    expect(back.searchParams.get('code')).toBeTruthy();
    const me = await getJson(`${url}/me`, user.tokens.access_token);
    expect((me.body.identities as { provider: string }[]).map((i) => i.provider)).toEqual(['acme', 'corp']);
    // Spent by that use: a second one, even in the requester's browser, is refused.
    const again = await user.browser.request(linkUrl);
    expect(new URL(again.headers.get('location')!).searchParams.get('error')).toBe('invalid_request');
  });

  it('L1: another user signing in in the same browser ends the first one’s browser session, so links follow the new user', async () => {
    const first = await signIn('acme', 'shared-first');
    // Asked for while the browser is still theirs.
    const link = await postJson(`${url}/me/identities/corp/link`, {}, { authorization: `Bearer ${first.tokens.access_token}` });
    expect(link.status).toBe(200);
    // Signed out at the provider (its cookies gone), so the next person signs in there as themselves.
    for (const name of [...first.browser.cookies('127.0.0.1').keys()])
      if (name.startsWith('_')) first.browser.cookies('127.0.0.1').delete(name);
    const second = await signIn('acme', 'shared-second', first.browser);
    const me = await first.browser.request(`${url}/me`);
    expect(JSON.parse(me.body).id).toBe(second.me.id);
    expect(await auditOf(first.me.id)).toEqual(
      expect.arrayContaining([expect.objectContaining({ type: 'session_revoked', reason: 'signed_in_as_another_user' })]),
    );
    expect((await followLink(first.browser, link.body.url as string, 'x')).searchParams.get('error')).toBe('not_logged_in');
    // The first person's app session was signed in through that browser session, and ended with it.
    expect((await getJson(`${url}/me`, first.tokens.access_token)).status).toBe(401);
  });

  it('makes the link URL single use', async () => {
    const user = await signIn('acme', 'once');
    const link = await postJson(`${url}/me/identities/corp/link`, {}, { authorization: `Bearer ${user.tokens.access_token}` });
    await followLink(user.browser, link.body.url as string, 'once-corp');
    const again = await new TestBrowser().request((link.body.url as string).replace(world.service.publicUrl, url));
    expect(new URL(again.headers.get('location')!).searchParams.get('error')).toBe('invalid_request');
  });

  it('falls back to the built-in page for a returnTo within 2,048 characters that is longer once normalised, at linking and at sign-in', async () => {
    // 1,996 characters as sent; 11,846 as new URL() writes it (each é is %C3%A9), over link_tickets.return_to's 2,048.
    const returnTo = `${world.service.publicUrl}/?q=${'é'.repeat(1970)}`;
    expect(returnTo.length).toBeLessThanOrEqual(2048);
    const user = await signIn('acme', 'long-return');
    const link = await postJson(`${url}/me/identities/corp/link`, { returnTo }, { authorization: `Bearer ${user.tokens.access_token}` });
    expect(link.status).toBe(200);
    const linked = await followLink(user.browser, link.body.url as string, 'long-return-corp');
    expect([linked.searchParams.has('q'), linked.searchParams.get('error')]).toEqual([false, null]);
    expect((await getJson(`${url}/me`, user.tokens.access_token)).body.identities).toHaveLength(2);
    const { result } = await browserSignIn(new TestBrowser(), url, 'acme', { login: 'long-return', returnTo, backAt: `${url}/` });
    expect([result.searchParams.has('q'), result.searchParams.has('code')]).toEqual([false, true]);
  });

  it('needs a signed-in user and an enabled provider', async () => {
    expect((await postJson(`${url}/me/identities/acme/link`, {})).status).toBe(401);
    const user = await signIn('acme', 'nolink');
    expect((await postJson(`${url}/me/identities/github/link`, {}, { authorization: `Bearer ${user.tokens.access_token}` })).status).toBe(
      404,
    );
    expect(
      (await postJson(`${url}/me/identities/acme/link`, { extra: 1 }, { authorization: `Bearer ${user.tokens.access_token}` })).status,
    ).toBe(400);
  });
});

describe('unlinking', () => {
  it('refuses the last identity with 409 last_identity, and unlinks one of two', async () => {
    const user = await signIn('acme', 'unl');
    const token = user.tokens.access_token;
    const only = user.me.identities[0].id;
    expect(await call('DELETE', `/me/identities/${only}`, token)).toEqual({
      status: 409,
      body: { error: 'last_identity', error_description: expect.any(String) },
    });
    const link = await postJson(`${url}/me/identities/corp/link`, {}, { authorization: `Bearer ${token}` });
    await followLink(user.browser, link.body.url as string, 'unl-corp');
    expect((await call('DELETE', `/me/identities/${only}`, token)).status).toBe(204);
    const me = await getJson(`${url}/me`, token);
    expect((me.body.identities as { provider: string }[]).map((i) => i.provider)).toEqual(['corp']);
    expect((await signIn('acme', 'unl')).me.id).not.toBe(user.me.id);
    expect((await call('DELETE', `/me/identities/${randomUUID()}`, token)).status).toBe(404);
  });

  it('of two concurrent unlinks of a two-identity account, exactly one succeeds', async () => {
    const user = await signIn('acme', 'race-unl');
    const link = await postJson(`${url}/me/identities/corp/link`, {}, { authorization: `Bearer ${user.tokens.access_token}` });
    await followLink(user.browser, link.body.url as string, 'race-unl-corp');
    const ids = ((await getJson(`${url}/me`, user.tokens.access_token)).body.identities as { id: string }[]).map((i) => i.id);
    const results = await Promise.all(ids.map((id) => call('DELETE', `/me/identities/${id}`, user.tokens.access_token)));
    expect(results.map((r) => r.status).sort()).toEqual([204, 409]);
  });
});

describe('roles from an OIDC groups claim (OIDC_CORP_ROLE_MAP)', () => {
  it('maps groups to local roles, re-syncs them at each sign-in, and keeps roles an admin gave', async () => {
    world.corp.accounts.set('dev', { email: 'dev@corp.test', email_verified: true, groups: ['devs', 'unmapped'] });
    const first = await signIn('corp', 'dev');
    expect(first.me.roles).toEqual(['user', 'developer']);
    const patched = await call('PATCH', `/admin/users/${first.me.id}`, adminToken, { roles: ['user', 'editor'] });
    expect(patched.body).toMatchObject({ assignedRoles: ['user', 'editor'], providerRoles: ['developer'] });
    world.corp.accounts.set('dev', { email: 'dev@corp.test', email_verified: true, groups: [] });
    const second = await signIn('corp', 'dev');
    expect(second.me.roles).toEqual(['user', 'editor']);
    expect(JSON.parse(Buffer.from(second.tokens.access_token.split('.')[1], 'base64url').toString()).roles).toEqual(['user', 'editor']);
    expect(await auditOf(first.me.id)).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ type: 'role_changed', reason: 'provider_roles_synced', details: { from: ['developer'], to: [] } }),
      ]),
    );
  });
});

describe('admin API', () => {
  it('S4: answers 401 without a token and 403 for a plain user on every admin route', async () => {
    const user = await signIn('acme', 'plain');
    const id = user.me.id;
    const routes: [string, string, unknown?][] = [
      ['GET', '/admin/users'],
      ['GET', `/admin/users/${id}`],
      ['PATCH', `/admin/users/${id}`, { disabled: true }],
      ['DELETE', `/admin/users/${id}`],
      ['DELETE', `/admin/users/${id}/identities/${user.me.identities[0].id}`],
      ['POST', `/admin/users/${id}/sessions/revoke`],
      ['POST', `/admin/users/${id}/merge`, { sourceUserId: randomUUID() }],
      ['GET', '/admin/audit'],
      ['POST', '/admin/keys/rotate'],
    ];
    for (const [method, path, body] of routes) {
      expect([method, path, (await call(method, path, undefined, body)).status]).toEqual([method, path, 401]);
      expect([method, path, (await call(method, path, user.tokens.access_token, body)).status]).toEqual([method, path, 403]);
    }
    expect((await getJson(`${url}/me`, user.tokens.access_token)).status).toBe(200);
  });

  it('finds users by email, name and provider subject; SQL-looking input is just text', async () => {
    world.acme.accounts.set('findme-sub', { email: 'Find.Me@Example.test', email_verified: true, name: 'Ms Findable 100%' });
    const user = await signIn('acme', 'findme-sub');
    for (const query of ['find.me@', 'FINDABLE', 'findme-sub', '100%']) {
      const res = await call('GET', `/admin/users?query=${encodeURIComponent(query)}`, adminToken);
      expect([query, res.body.items.map((u: { id: string }) => u.id)]).toEqual([query, [user.me.id]]);
    }
    for (const query of ["' OR 1=1 --", '%', '_', '"); DROP TABLE users; --', '!']) {
      const res = await call('GET', `/admin/users?query=${encodeURIComponent(query)}`, adminToken);
      expect(res.status).toBe(200);
      expect(res.body.items.length).toBeLessThan(3);
    }
    expect((await call('GET', '/admin/users?limit=101', adminToken)).status).toBe(400);
    expect((await call('GET', '/admin/users?cursor=garbage', adminToken)).body.error).toBe('invalid_request');
    expect((await call('GET', '/admin/users?bogus=1', adminToken)).status).toBe(400);
  });

  it('finds part of an email or name through the trigram index, following renames and deletions', async () => {
    const search = async (query: string, limit = 20) =>
      (await call('GET', `/admin/users?query=${encodeURIComponent(query)}&limit=${limit}`, adminToken)).body as {
        items: { id: string; name: string }[];
        nextCursor: string | null;
      };
    world.acme.accounts.set('renamed-sub', { email: 'zebedee@rename.test', email_verified: true, name: 'Zebedee Quux' });
    const user = await signIn('acme', 'renamed-sub');
    expect((await search('BEDEE')).items.map((u) => u.id)).toEqual([user.me.id]);
    expect((await search('ee Qu')).items.map((u) => u.id)).toEqual([user.me.id]);
    expect((await search('dee@ren')).items.map((u) => u.id)).toEqual([user.me.id]);
    expect((await search('ze')).items.map((u) => u.id)).toContain(user.me.id); // too short for trigrams: scanned

    world.acme.accounts.set('renamed-sub', { email: 'zora@rename.test', email_verified: true, name: 'Zora Quux' });
    await signIn('acme', 'renamed-sub');
    expect((await search('bedee')).items).toEqual([]);
    expect((await search('zora q')).items.map((u) => u.id)).toEqual([user.me.id]);
    expect((await call('DELETE', `/admin/users/${user.me.id}`, adminToken)).status).toBe(204);
    expect((await search('zora q')).items).toEqual([]);

    // More matches than the index hands over (200): newest first, page by page, as without it.
    const now = Date.now();
    const many = await insertUsers(world.service.app, 250, (i) => ({ email: `bulk${i}@many.test`, name: null, createdAt: now - i }));
    const first = await search('many.te', 5);
    expect(first.items.map((u) => u.id)).toEqual(many.slice(0, 5).map((u) => u.id));
    expect(first.nextCursor).not.toBeNull();
    expect((await search('bulk249@')).items.map((u) => u.id)).toEqual([many[249].id]);
  });

  it('pages through every user exactly once while users are being added', async () => {
    const addUsers = (n: number, tag: string) =>
      Promise.all(
        Array.from({ length: n }, (_, i) =>
          insertUser(world.service.app, { email: `${tag}${i}@page.test`, name: `${tag} ${i}`, createdAt: Date.now() - i }),
        ),
      );
    await addUsers(45, 'before');
    const all = new Set<string>((await call('GET', '/admin/users?limit=100', adminToken)).body.items.map((u: { id: string }) => u.id));
    const seen: string[] = [];
    let cursor: string | null = null;
    let round = 0;
    do {
      const page: { body: { items: { id: string }[]; nextCursor: string | null } } = await call(
        'GET',
        `/admin/users?limit=7${cursor ? `&cursor=${cursor}` : ''}`,
        adminToken,
      );
      seen.push(...page.body.items.map((u) => u.id));
      cursor = page.body.nextCursor;
      await addUsers(3, `during${round++}`);
    } while (cursor);
    expect(new Set(seen).size).toBe(seen.length);
    for (const id of all) expect(seen).toContain(id);
  });

  it('S2: shows a user with identities and active sessions, changes roles, disables (ending every session) and enables', async () => {
    const user = await signIn('acme', 'managed');
    const detail = await call('GET', `/admin/users/${user.me.id}`, adminToken);
    expect(detail.body).toMatchObject({
      id: user.me.id,
      roles: ['user'],
      identities: [expect.objectContaining({ provider: 'acme', subject: 'managed' })],
      // The browser's own session at the service, and the app's that the code started.
      sessions: [expect.objectContaining({ userAgent: 'test-browser/1.0' }), expect.objectContaining({ userAgent: 'test-browser/1.0' })],
    });
    const disabled = await call('PATCH', `/admin/users/${user.me.id}`, adminToken, { disabled: true });
    expect(disabled.body).toMatchObject({ disabled: true, sessions: [] });
    expect((await getJson(`${url}/me/claims`, user.tokens.access_token)).status).toBe(401);
    expect(
      (await postJson(`${url}/auth/token`, { grant_type: 'refresh_token', refresh_token: user.tokens.refresh_token })).body.error,
    ).toBe('invalid_grant');
    const refused = await browserSignIn(new TestBrowser(), url, 'acme', { login: 'managed' });
    expect(refused.result.searchParams.get('error')).toBe('account_disabled');
    await call('PATCH', `/admin/users/${user.me.id}`, adminToken, { disabled: false });
    expect((await signIn('acme', 'managed')).me.id).toBe(user.me.id);
    expect((await call('PATCH', `/admin/users/${user.me.id}`, adminToken, { roles: ['not a role!'] })).status).toBe(400);
    expect((await call('PATCH', `/admin/users/${user.me.id}`, adminToken, { disabled: 'yes' })).status).toBe(400);
    expect((await call('GET', `/admin/users/${randomUUID()}`, adminToken)).status).toBe(404);
    const types = (await auditOf(user.me.id)).map((e) => e.type);
    expect(types).toEqual(expect.arrayContaining(['user_disabled', 'user_enabled', 'sign_in_failed']));
  });

  it('S4: a demoted admin loses admin at once', async () => {
    world.corp.accounts.set('deputy', { email: 'deputy@corp.test', email_verified: true });
    const deputy = await signIn('corp', 'deputy');
    await call('PATCH', `/admin/users/${deputy.me.id}`, adminToken, { roles: ['user', 'admin'] });
    const promoted = await postJson(`${url}/auth/token`, { grant_type: 'refresh_token', refresh_token: deputy.tokens.refresh_token });
    const token = promoted.body.access_token as string;
    expect((await call('GET', '/admin/users', token)).status).toBe(200);
    await call('PATCH', `/admin/users/${deputy.me.id}`, adminToken, { roles: ['user'] });
    expect([401, 403]).toContain((await call('GET', '/admin/users', token)).status);
    const after = await postJson(`${url}/auth/token`, { grant_type: 'refresh_token', refresh_token: promoted.body.refresh_token });
    expect(after.status).toBe(200);
    expect((await call('GET', '/admin/users', after.body.access_token as string)).status).toBe(403);
  });

  it('removes an identity, ends sessions, deletes a user while audit rows stay', async () => {
    const user = await signIn('acme', 'doomed');
    const link = await postJson(`${url}/me/identities/corp/link`, {}, { authorization: `Bearer ${user.tokens.access_token}` });
    await followLink(user.browser, link.body.url as string, 'doomed-corp');
    const detail = await call('GET', `/admin/users/${user.me.id}`, adminToken);
    const [first, second] = detail.body.identities as { id: string }[];
    expect((await call('DELETE', `/admin/users/${user.me.id}/identities/${first.id}`, adminToken)).status).toBe(204);
    expect((await call('DELETE', `/admin/users/${user.me.id}/identities/${second.id}`, adminToken)).body.error).toBe('last_identity');
    const revoked = await call('POST', `/admin/users/${user.me.id}/sessions/revoke`, adminToken);
    expect(revoked.body).toEqual({ revoked: 2 });
    expect((await getJson(`${url}/me/claims`, user.tokens.access_token)).status).toBe(401);
    expect((await call('DELETE', `/admin/users/${user.me.id}`, adminToken)).status).toBe(204);
    expect((await call('GET', `/admin/users/${user.me.id}`, adminToken)).status).toBe(404);
    expect((await auditOf(user.me.id)).map((e) => e.type)).toEqual(
      expect.arrayContaining(['user_deleted', 'session_revoked', 'identity_unlinked', 'sign_in']),
    );
  });

  it('merges two accounts: identities and roles move, the source’s sessions end, both recorded', async () => {
    const target = await signIn('acme', 'merge-target');
    const source = await signIn('facebook', 'merge-source');
    await call('PATCH', `/admin/users/${source.me.id}`, adminToken, { roles: ['user', 'reviewer'] });
    const merged = await call('POST', `/admin/users/${target.me.id}/merge`, adminToken, { sourceUserId: source.me.id });
    expect(merged.status).toBe(200);
    expect(merged.body.roles).toEqual(['user', 'reviewer']);
    expect(merged.body.identities.map((i: { provider: string }) => i.provider).sort()).toEqual(['acme', 'facebook']);
    expect((await getJson(`${url}/me/claims`, source.tokens.access_token)).status).toBe(401);
    expect((await signIn('facebook', 'merge-source')).me.id).toBe(target.me.id);
    expect((await call('GET', `/admin/users/${source.me.id}`, adminToken)).status).toBe(404);
    expect((await auditOf(source.me.id)).map((e) => `${e.type}:${e.reason}`)).toContain('users_merged:merged_away');
    expect((await auditOf(target.me.id)).map((e) => `${e.type}:${e.reason}`)).toContain('users_merged:merged_into');
    expect((await call('POST', `/admin/users/${target.me.id}/merge`, adminToken, { sourceUserId: target.me.id })).status).toBe(400);
  });

  it('protects the last admin (409 last_admin)', async () => {
    const me = await getJson(`${url}/me`, adminToken);
    const admins = await call('GET', '/admin/users?limit=100', adminToken);
    for (const u of admins.body.items as { id: string; roles: string[] }[]) {
      if (u.id !== me.body.id && u.roles.includes('admin')) await call('PATCH', `/admin/users/${u.id}`, adminToken, { roles: ['user'] });
    }
    expect((await call('PATCH', `/admin/users/${me.body.id}`, adminToken, { roles: ['user'] })).body.error).toBe('last_admin');
    expect((await call('PATCH', `/admin/users/${me.body.id}`, adminToken, { disabled: true })).body.error).toBe('last_admin');
    expect((await call('DELETE', `/admin/users/${me.body.id}`, adminToken)).body.error).toBe('last_admin');
    expect((await call('GET', '/admin/users', adminToken)).status).toBe(200);
  });

  it('protects the last admin with roles compared case-sensitively: ADMIN or Admin is not admin', async () => {
    const me = (await getJson(`${url}/me`, adminToken)).body.id as string;
    const users = await world.service.app.get(DataSource).getRepository(User).find();
    for (const u of users.filter((x) => isAdmin(x) && x.id !== me))
      await call('PATCH', `/admin/users/${u.id}`, adminToken, { roles: ['user'] });
    // Look-alikes of every kind: assigned, provider-mapped, and through the API (role names may have capitals).
    await insertUser(world.service.app, { email: 'shouty@case.test', roles: ['user', 'ADMIN'] });
    await insertUser(world.service.app, { email: 'mapped@case.test', roles: ['user'], providerRoles: ['Admin'] });
    const viaApi = await insertUser(world.service.app, { email: 'api@case.test' });
    expect((await call('PATCH', `/admin/users/${viaApi.id}`, adminToken, { roles: ['user', 'aDmIn'] })).body.roles).toEqual([
      'user',
      'aDmIn',
    ]);
    expect((await call('PATCH', `/admin/users/${me}`, adminToken, { roles: ['user'] })).body.error).toBe('last_admin');
    expect((await call('PATCH', `/admin/users/${me}`, adminToken, { disabled: true })).body.error).toBe('last_admin');
    expect((await call('DELETE', `/admin/users/${me}`, adminToken)).body.error).toBe('last_admin');
    expect((await call('GET', '/admin/users', adminToken)).status).toBe(200);
  });

  it('protects the last admin from an unlink that drops the admin role its provider maps (409 last_admin), at /me and at the admin route', async () => {
    // opsy is admin only through the corp groups claim (OIDC_CORP_ROLE_MAP ops:admin), and has a second identity.
    world.corp.accounts.set('opsy', { email: 'opsy@corp.test', email_verified: true, groups: ['ops'] });
    const opsy = await signIn('corp', 'opsy');
    const token = opsy.tokens.access_token;
    const link = await postJson(`${url}/me/identities/acme/link`, {}, { authorization: `Bearer ${token}` });
    await followLink(opsy.browser, link.body.url as string, 'opsy-acme');
    const identities = (await getJson(`${url}/me`, token)).body.identities as { id: string; provider: string }[];
    const corp = identities.find((i) => i.provider === 'corp')!;
    // Every other admin's assigned admin goes (root's, by the test before): opsy is the last admin.
    const users = world.service.app.get(DataSource).getRepository(User);
    for (const u of (await users.find()).filter((x) => isAdmin(x) && x.id !== opsy.me.id))
      expect((await call('PATCH', `/admin/users/${u.id}`, token, { roles: ['user'] })).status).toBe(200);
    expect((await users.find()).filter((x) => isAdmin(x)).map((x) => x.id)).toEqual([opsy.me.id]);
    for (const path of [`/me/identities/${corp.id}`, `/admin/users/${opsy.me.id}/identities/${corp.id}`]) {
      expect([path, await call('DELETE', path, token)]).toEqual([
        path,
        { status: 409, body: { error: 'last_admin', error_description: expect.any(String) } },
      ]);
    }
    expect((await getJson(`${url}/me`, token)).body).toMatchObject({ roles: expect.arrayContaining(['admin']), identities });
    // Once root is admin again (ADMIN_EMAILS, at its next sign-in), the same unlink goes through and takes opsy's admin.
    adminToken = (await signIn('corp', 'root')).tokens.access_token;
    expect((await call('DELETE', `/me/identities/${corp.id}`, token)).status).toBe(204);
    expect((await call('GET', `/admin/users/${opsy.me.id}`, adminToken)).body).toMatchObject({ roles: ['user'], providerRoles: [] });
  });

  describe('cursors: a tampered one is 400 invalid_request, and decodes into its own typed fields only', () => {
    const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
    const raw = (json: string) => Buffer.from(json).toString('base64url');
    const refused = { status: 400, body: { error: 'invalid_request', error_description: expect.any(String) } };
    const answers = async (path: string, cursors: string[]) =>
      Promise.all(
        cursors.map(async (c) => [Buffer.from(c, 'base64url').toString(), await call('GET', `${path}cursor=${c}`, adminToken)] as const),
      );

    it('admin users list: out-of-range, non-integer or mistyped fields, missing or unknown keys', async () => {
      await insertUsers(world.service.app, 2, () => ({}));
      const { nextCursor } = (await call('GET', '/admin/users?limit=1', adminToken)).body as { nextCursor: string };
      const genuine = JSON.parse(Buffer.from(nextCursor, 'base64url').toString()) as { c: number; i: string };
      expect(Object.keys(genuine).sort()).toEqual(['c', 'i']);
      const tampered = [
        raw(`{"c":1e400,"i":"${genuine.i}"}`),
        raw(`{"c":-1e400,"i":"${genuine.i}"}`),
        encode({ c: 1.5, i: genuine.i }),
        encode({ c: 2 ** 53, i: genuine.i }),
        encode({ c: String(genuine.c), i: genuine.i }),
        encode({ c: genuine.c, i: 7 }),
        encode({ c: genuine.c, i: ['x'] }),
        encode({ c: genuine.c, i: 'a\u0000b' }),
        encode({ c: genuine.c }),
        encode({ ...genuine, like: '%' }),
        encode({ ...genuine, subject: 'x' }),
        raw(`{"c":${genuine.c},"i":"${genuine.i}","__proto__":{"like":"%"}}`),
        encode([genuine.c, genuine.i]),
        encode(null),
        encode(genuine.c),
      ];
      for (const [json, res] of await answers('/admin/users?', tampered)) expect([json, res]).toEqual([json, refused]);
      expect((await call('GET', `/admin/users?cursor=${encode(genuine)}`, adminToken)).status).toBe(200);
    });

    it('a cursor cannot widen a search: its extra keys never reach the query', async () => {
      const far = encode({ c: Date.now() + 86_400_000, i: 'ffffffff', like: '%', subject: 'x' });
      const res = await call('GET', `/admin/users?query=${encodeURIComponent('no-such-user-anywhere')}&cursor=${far}`, adminToken);
      expect(res).toEqual(refused);
      const plain = encode({ c: Date.now() + 86_400_000, i: 'ffffffff' });
      const none = await call('GET', `/admin/users?query=${encodeURIComponent('no-such-user-anywhere')}&cursor=${plain}`, adminToken);
      expect(none).toEqual({ status: 200, body: { items: [], nextCursor: null } });
    });

    it('audit list: an id that is not a decimal integer, mistyped, missing or with unknown keys', async () => {
      const { nextCursor } = (await call('GET', '/admin/audit?limit=1', adminToken)).body as { nextCursor: string };
      const genuine = JSON.parse(Buffer.from(nextCursor, 'base64url').toString()) as { id: string };
      expect(genuine).toEqual({ id: expect.stringMatching(/^[0-9]+$/) });
      const tampered = [
        encode({ id: 'abc' }),
        encode({ id: '' }),
        encode({ id: '1e400' }),
        encode({ id: '-1' }),
        encode({ id: '1.5' }),
        encode({ id: '9'.repeat(30) }),
        encode({ id: 12 }),
        encode({ id: 'a\u0000' }),
        encode({}),
        encode({ ...genuine, userId: randomUUID() }),
      ];
      for (const [json, res] of await answers('/admin/audit?', tampered)) expect([json, res]).toEqual([json, refused]);
      expect((await call('GET', `/admin/audit?limit=1&cursor=${nextCursor}`, adminToken)).status).toBe(200);
    });
  });

  it('refuses a NUL character in the search query or the audit type with 400 invalid_request', async () => {
    for (const path of [
      '/admin/users?query=a%00b',
      '/admin/users?query=%00',
      '/admin/users?query=abc%00def',
      '/admin/audit?type=sign_in%00',
    ]) {
      expect([path, await call('GET', path, adminToken)]).toEqual([
        path,
        { status: 400, body: { error: 'invalid_request', error_description: expect.any(String) } },
      ]);
    }
  });

  it('filters and pages the audit trail', async () => {
    const page1 = await call('GET', '/admin/audit?type=sign_in&limit=5', adminToken);
    expect(page1.body.items).toHaveLength(5);
    expect(page1.body.items.every((e: { type: string }) => e.type === 'sign_in')).toBe(true);
    expect(page1.body.items[0]).toEqual(
      expect.objectContaining({
        id: expect.any(String),
        at: expect.any(String),
        actorId: null,
        userId: expect.any(String),
        provider: expect.any(String),
        reason: expect.any(String),
        ip: '127.0.0.1',
        userAgent: 'test-browser/1.0',
      }),
    );
    const page2 = await call('GET', `/admin/audit?type=sign_in&limit=5&cursor=${page1.body.nextCursor}`, adminToken);
    const ids = [...page1.body.items, ...page2.body.items].map((e: { id: string }) => Number(e.id));
    expect(ids).toEqual([...ids].sort((a, b) => b - a));
    expect(new Set(ids).size).toBe(10);
    expect((await call('GET', '/admin/audit?userId=not-a-uuid', adminToken)).status).toBe(400);
  });
});

describe('sessions the user ends', () => {
  it('are audited with the user as actor and the request’s IP and user agent (DELETE /me/sessions[/:id], POST /auth/logout, POST /session/logout)', async () => {
    const userAgent = 'session-ender/2.0';
    const sessions: Awaited<ReturnType<typeof signIn>>[] = [];
    for (let i = 0; i < 4; i++) sessions.push(await signIn('acme', 'ender'));
    const userId = sessions[0].me.id as string;
    expect(new Set(sessions.map((s) => s.me.id))).toEqual(new Set([userId]));
    const sid = (accessToken: string) => JSON.parse(Buffer.from(accessToken.split('.')[1], 'base64url').toString()).sid as string;
    const send = (method: string, path: string, headers: Record<string, string> = {}, body?: unknown) =>
      fetch(`${url}${path}`, {
        method,
        headers: { 'user-agent': userAgent, ...(body ? { 'content-type': 'application/json' } : {}), ...headers },
        body: body ? JSON.stringify(body) : undefined,
      });
    const bearer = (i: number) => ({ authorization: `Bearer ${sessions[i].tokens.access_token}` });

    // One device from the list; logout by refresh token; logout by access token.
    expect((await send('DELETE', `/me/sessions/${sid(sessions[0].tokens.access_token)}`, bearer(1))).status).toBe(204);
    expect((await send('POST', '/auth/logout', {}, { refresh_token: sessions[1].tokens.refresh_token })).status).toBe(204);
    expect((await send('POST', '/auth/logout', bearer(2))).status).toBe(204);
    // The pages' own sign-out, from a cookie session.
    const browser = new TestBrowser();
    const back = await completeAtProvider(browser, `${url}/session/login/acme`, (u) => new URL(u).pathname === '/session/callback', {
      login: 'ender',
    });
    expect((await browser.request(back.result.href)).headers.get('location')).toBe('/account');
    const csrf = /<meta name="csrf-token" content="([^"]+)">/.exec((await browser.request(`${url}/account`)).body)![1];
    const pageLogout = await browser.request(`${url}/session/logout`, {
      method: 'POST',
      headers: { 'x-csrf-token': csrf, 'user-agent': userAgent },
    });
    expect(pageLogout.status).toBe(204);
    // Everything else at once.
    expect((await send('DELETE', '/me/sessions', bearer(3))).status).toBe(200);

    const revoked = (await auditOf(userId)).filter((e) => e.type === 'session_revoked');
    // Each app logout ends its browser's session too: two rows more, with the same actor, IP and user agent.
    expect(revoked.map((e) => e.reason).sort()).toEqual([
      'logout',
      'logout',
      'logout',
      'logout',
      'logout',
      'signed out everywhere',
      'signed_out_by_user',
    ]);
    for (const e of revoked) {
      expect(e).toEqual(expect.objectContaining({ userId, actorId: userId, ip: '127.0.0.1', userAgent }));
    }
  });
});

describe('OpenAPI', () => {
  it('serves the document with every route and the bearer scheme, and the UI', async () => {
    const doc = await getJson(`${url}/docs-json`);
    expect(doc.status).toBe(200);
    const paths = Object.keys(doc.body.paths as object);
    for (const p of [
      '/auth/providers',
      '/auth/{provider}/login',
      '/auth/{provider}/callback',
      '/auth/token',
      '/auth/logout',
      '/me',
      '/me/claims',
      '/me/sessions',
      '/me/identities/{provider}/link',
      '/me/identities/{identityId}',
      '/admin/users',
      '/admin/users/{id}',
      '/admin/users/{id}/merge',
      '/admin/audit',
      '/.well-known/jwks.json',
      '/health',
    ]) {
      expect(paths).toContain(p);
    }
    expect((doc.body.components as any).securitySchemes.bearer).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect((await fetch(`${url}/docs`)).status).toBe(200);
  });
});
