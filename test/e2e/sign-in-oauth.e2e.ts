import { spawn } from 'node:child_process';
import { DataSource } from 'typeorm';
import { Identity } from '../../src/accounts/identity.entity.js';
import { TestBrowser } from '../support/browser.js';
import { startGithubFake, type GithubFake, type RawAnswer } from '../support/github-fake.js';
import { freePort } from '../support/net.js';
import { startOAuth2Fake, type OAuth2Fake } from '../support/oauth2-fake.js';
import { startService, type RunningService } from '../support/service.js';
import { browserSignIn, callApi, completeAtProvider, exchangeCode, getJson, postJson, signInAndGetTokens } from '../support/sign-in.js';

/**
 * GitHub and generic OAuth 2.0 providers (issue 18), end to end through local stand-ins that behave as the real ones
 * do: a GitHub (its OAuth app flow, `/user`, `/user/emails`; an Enterprise layout under `/api/v3`), and two plain
 * OAuth 2.0 providers the service knows only from OAUTH_<ID>_* variables: "chat" (client_secret_basic, PKCE, a
 * mapped verified-email field) and "forum" (client_secret_post, no PKCE, no verified field).
 */
let github: GithubFake;
let chat: OAuth2Fake;
let forum: OAuth2Fake;
let service: RunningService;
let url: string;
let returnTo: string;
let adminToken: string;
let adminId: string;
const BOSS = 'boss@example.test';

beforeAll(async () => {
  github = await startGithubFake({ clientId: 'gh-app', clientSecret: 'gh-secret' });
  chat = await startOAuth2Fake({
    id: 'chat',
    clientId: 'chat-client',
    clientSecret: 'chat-secret',
    auth: 'client_secret_basic',
    pkce: true,
  });
  forum = await startOAuth2Fake({
    id: 'forum',
    clientId: 'forum-client',
    clientSecret: 'forum-secret',
    auth: 'client_secret_post',
    pkce: false,
  });
  const port = await freePort();
  github.callbackUrl = `http://127.0.0.1:${port}/auth/github/callback`;
  service = await startService(
    {
      ...github.env,
      OAUTH_PROVIDERS: 'chat,forum',
      ...chat.env,
      OAUTH_CHAT_NAME: 'Chat',
      OAUTH_CHAT_EMAIL_VERIFIED_FIELD: 'data.mail_confirmed',
      ...forum.env,
      OAUTH_FORUM_NAME: 'Forum',
      ADMIN_EMAILS: BOSS,
      AUTO_LINK_VERIFIED_EMAIL: 'true',
      PROVIDER_TIMEOUT_MS: '1500',
    },
    { port },
  );
  url = service.url;
  returnTo = `${service.publicUrl}/app/after-sign-in`;
  chat.users.set('boss', { uid: 1001, mail: BOSS, mailConfirmed: true, displayName: 'The Boss' });
  const boss = await signInAndGetTokens(new TestBrowser(), url, 'chat', { login: 'boss' });
  adminToken = boss.tokens.access_token;
  adminId = boss.me.id;
});

afterAll(async () => {
  await service?.close();
  for (const x of [github, chat, forum]) await x?.close();
});

afterEach(() => {
  github.tokenAnswer = github.userAnswer = github.emailsAnswer = undefined;
  chat.tokenAnswer = chat.meAnswer = undefined;
  forum.tokenAnswer = forum.meAnswer = undefined;
  // No response in the suite may be a 5xx.
  expect(service.serverErrors).toEqual([]);
});

const db = () => service.app.get(DataSource);
const outcome = (u: URL) => ({ at: u.origin + u.pathname, error: u.searchParams.get('error'), code: u.searchParams.get('code') });
const lastLog = <T extends { path: string }>(log: T[], path: string) => log.filter((l) => l.path === path).at(-1)!;

/** The newest sign_in_failed audit row for `provider`, as an admin reads it. */
async function lastFailure(provider: string) {
  const page = await callApi(url, 'GET', '/admin/audit?type=sign_in_failed&limit=20', adminToken);
  expect(page.status).toBe(200);
  return (page.body.items as { provider: string; reason: string; details: Record<string, unknown> }[]).find((e) => e.provider === provider);
}

/** Signs in at the stand-in and stops where it sends the browser to our callback, without following it. */
async function untilCallback(browser: TestBrowser, provider: string, login = 'mallory'): Promise<URL> {
  const isCallback = (u: string) => new URL(u).pathname === `/auth/${provider}/callback`;
  const start = `${url}/auth/${provider}/login?${new URLSearchParams({ returnTo })}`;
  return (await completeAtProvider(browser, start, isCallback, { login })).result;
}

describe('GitHub', () => {
  it('signs in end to end: the numeric id as subject, the profile from /user, PKCE S256 and state, the secret in the token form', async () => {
    github.users.set('octo', {
      id: 583231,
      login: 'octo',
      name: 'The Octocat',
      emails: [{ email: 'Octo@GitHub.example', primary: true, verified: true }],
    });
    const { result, authorizeUrl } = await browserSignIn(new TestBrowser(), url, 'github', { login: 'octo', returnTo });
    expect(outcome(result)).toEqual({ at: returnTo, error: null, code: expect.any(String) });
    expect(authorizeUrl.origin + authorizeUrl.pathname).toBe(`${github.web}/login/oauth/authorize`);
    expect(Object.fromEntries(authorizeUrl.searchParams)).toMatchObject({
      client_id: 'gh-app',
      redirect_uri: `${service.publicUrl}/auth/github/callback`,
      scope: 'read:user user:email',
      response_type: 'code',
      code_challenge_method: 'S256',
      state: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
    });
    const token = lastLog(github.log, '/login/oauth/access_token');
    expect(token.form).toMatchObject({ client_id: 'gh-app', client_secret: 'gh-secret', code_verifier: expect.any(String) });
    expect(token.headers.accept).toContain('application/json');

    const { me } = await signInAndGetTokens(new TestBrowser(), url, 'github', { login: 'octo' });
    expect(me).toMatchObject({
      email: 'octo@github.example',
      emailVerified: true,
      name: 'The Octocat',
      picture: `${github.web}/avatars/583231`,
    });
    expect(me.identities).toEqual([expect.objectContaining({ provider: 'github', subject: '583231' })]);
  });

  it('F9: the access token goes to the API in the Authorization header only (the stand-in refuses it in a query string), with a User-Agent', async () => {
    await signInAndGetTokens(new TestBrowser(), url, 'github', { login: 'f9-github' });
    for (const path of ['/user', '/user/emails']) {
      const call = lastLog(github.log, path);
      expect(call.query).toEqual({});
      expect(call.headers.authorization).toMatch(/^Bearer gho_/);
      expect(call.headers['user-agent']).toBeTruthy();
    }
  });

  it('an unverified primary email and a verified secondary: the verified secondary is kept, as verified', async () => {
    github.users.set('ursula', {
      id: 7001,
      login: 'ursula',
      name: 'Ursula',
      emails: [
        { email: 'claimed@example.test', primary: true, verified: false },
        { email: 'ursula@example.test', primary: false, verified: true },
      ],
    });
    const { me } = await signInAndGetTokens(new TestBrowser(), url, 'github', { login: 'ursula' });
    expect(me).toMatchObject({ email: 'ursula@example.test', emailVerified: true });
    expect(me.identities[0]).toMatchObject({ subject: '7001', email: 'ursula@example.test' });
  });

  it('I5: no verified email at all: the primary is kept as unverified, so an ADMIN_EMAILS address is never admin nor joined to its verified owner', async () => {
    github.users.set('impostor', {
      id: 7002,
      login: 'impostor',
      name: 'Not the boss',
      emails: [
        { email: 'other@example.test', primary: false, verified: false },
        { email: BOSS, primary: true, verified: false },
      ],
    });
    const { me } = await signInAndGetTokens(new TestBrowser(), url, 'github', { login: 'impostor' });
    expect(me).toMatchObject({ email: BOSS, emailVerified: false });
    expect(me.roles).not.toContain('admin');
    // AUTO_LINK_VERIFIED_EMAIL is on and the boss's account has this address, verified: still another account.
    expect(me.id).not.toBe(adminId);
  });

  it('I5: a renamed login keeps its account (the numeric id is the subject); the old login, taken by someone else, is another account', async () => {
    github.users.set('renamer', {
      id: 7003,
      login: 'renamer',
      name: 'Before',
      emails: [{ email: 'r@example.test', primary: true, verified: true }],
    });
    const before = await signInAndGetTokens(new TestBrowser(), url, 'github', { login: 'renamer' });
    github.users.set('renamed', {
      id: 7003,
      login: 'renamed',
      name: 'After',
      emails: [{ email: 'r@example.test', primary: true, verified: true }],
    });
    github.users.set('renamer', {
      id: 7004,
      login: 'renamer',
      name: 'Squatter',
      emails: [{ email: 's@example.test', primary: true, verified: true }],
    });
    const after = await signInAndGetTokens(new TestBrowser(), url, 'github', { login: 'renamed' });
    expect(after.me.id).toBe(before.me.id);
    expect(after.me.name).toBe('After');
    expect(after.me.identities).toEqual([expect.objectContaining({ provider: 'github', subject: '7003' })]);
    const squatter = await signInAndGetTokens(new TestBrowser(), url, 'github', { login: 'renamer' });
    expect(squatter.me.id).not.toBe(before.me.id);
  });

  it('a token that may not read /user/emails (a GitHub App without the email permission, 403): the public email, unverified', async () => {
    github.users.set('app-user', { id: 7005, login: 'app-user', name: null, email: 'public@example.test', emails: [] });
    github.emailsAnswer = { status: 403, body: { message: 'Resource not accessible by integration' } };
    const { me } = await signInAndGetTokens(new TestBrowser(), url, 'github', { login: 'app-user' });
    expect(me).toMatchObject({ email: 'public@example.test', emailVerified: false, name: 'app-user' });
  });

  it('a code GitHub refuses (answered with HTTP 200 and error=bad_verification_code): provider_error, with GitHub’s error audited', async () => {
    github.tokenAnswer = {
      body: {
        error: 'bad_verification_code',
        error_description: 'The code passed is incorrect or expired.',
        error_uri: 'https://docs.github.com',
      },
    };
    const { result } = await browserSignIn(new TestBrowser(), url, 'github', { login: 'refused', returnTo });
    expect(outcome(result)).toEqual({ at: returnTo, error: 'provider_error', code: null });
    expect(await lastFailure('github')).toMatchObject({
      reason: 'provider_error',
      details: { providerError: 'bad_verification_code', providerErrorDescription: 'The code passed is incorrect or expired.' },
    });
  });

  it('Cancel at GitHub → returnTo?error=access_denied', async () => {
    const { result } = await browserSignIn(new TestBrowser(), url, 'github', { cancel: true, returnTo });
    expect(outcome(result)).toEqual({ at: returnTo, error: 'access_denied', code: null });
  });
});

/** Hostile or broken answers: each ends at returnTo with the error, the process keeps serving, no 5xx (afterEach). */
const hostileTokenAnswers: [string, string, RawAnswer][] = [
  ['JSON null', 'provider_error', { body: 'null' }],
  ['a JSON list', 'provider_error', { body: '[]' }],
  ['an object without access_token', 'provider_error', { body: { token_type: 'bearer' } }],
  ['an access_token that is a number', 'provider_error', { body: { access_token: 123, token_type: 'bearer' } }],
  ['an access_token that is an object', 'provider_error', { body: { access_token: { a: 1 }, token_type: 'bearer' } }],
  ['an access_token with a newline (no valid header value)', 'provider_error', { body: { access_token: 'a\nb', token_type: 'bearer' } }],
  ['a token_type other than Bearer', 'provider_error', { body: { access_token: 'mac-token', token_type: 'mac' } }],
  [
    'a repeated form field (node-oauth reads a list)',
    'provider_error',
    { body: 'access_token=a&access_token=b', contentType: 'application/x-www-form-urlencoded' },
  ],
  ['an HTML page with 200', 'provider_error', { body: '<html>maintenance</html>', contentType: 'text/html' }],
  ['a 500', 'provider_error', { status: 500, body: 'oops', contentType: 'text/plain' }],
  ['no answer within PROVIDER_TIMEOUT_MS', 'provider_unavailable', { hang: true, body: '' }],
];

describe.each(['github', 'chat'] as const)('%s: hostile token responses', (provider) => {
  it.each(hostileTokenAnswers)('%s → %s, and the next sign-in works', async (_what, error, answer) => {
    const fake = provider === 'github' ? github : chat;
    fake.tokenAnswer = answer;
    const { result } = await browserSignIn(new TestBrowser(), url, provider, { login: 'hostile', returnTo });
    expect(outcome(result)).toEqual({ at: returnTo, error, code: null });
    fake.tokenAnswer = undefined;
    const again = await browserSignIn(new TestBrowser(), url, provider, { login: 'after-hostile', returnTo });
    expect(outcome(again.result)).toEqual({ at: returnTo, error: null, code: expect.any(String) });
  });
});

describe('GitHub: hostile profile answers are provider_error, and never an account', () => {
  it.each<[string, 'userAnswer' | 'emailsAnswer', RawAnswer]>([
    ['/user is JSON null', 'userAnswer', { body: 'null' }],
    ['/user has no id', 'userAnswer', { body: { login: 'ghost' } }],
    ['/user has a string id', 'userAnswer', { body: { id: '42', login: 'ghost' } }],
    ['/user has an id past 2^53 (JSON cannot carry it exactly)', 'userAnswer', { body: '{"id":9007199254740993,"login":"ghost"}' }],
    ['/user has a negative id', 'userAnswer', { body: { id: -1, login: 'ghost' } }],
    ['/user is not JSON', 'userAnswer', { body: '<html>', contentType: 'text/html' }],
    ['/user answers 401', 'userAnswer', { status: 401, body: { message: 'Bad credentials' } }],
    ['/user/emails is an object', 'emailsAnswer', { body: { email: 'x@example.test', verified: true } }],
    ['/user/emails answers 500', 'emailsAnswer', { status: 500, body: 'oops', contentType: 'text/plain' }],
  ])('%s', async (_what, which, answer) => {
    const before = await db().getRepository(Identity).countBy({ provider: 'github' });
    github[which] = answer;
    const { result } = await browserSignIn(new TestBrowser(), url, 'github', { login: 'ghost', returnTo });
    expect(outcome(result)).toEqual({ at: returnTo, error: 'provider_error', code: null });
    expect(await db().getRepository(Identity).countBy({ provider: 'github' })).toBe(before);
  });

  it('emails that are not all objects or addresses: those are passed over, the verified one kept', async () => {
    github.users.set('odd-emails', { id: 7006, login: 'odd-emails', name: 'Odd', emails: [] });
    github.emailsAnswer = {
      body: [
        null,
        'x@example.test',
        { email: 'not an address', primary: true, verified: true },
        { email: 'ok@example.test', verified: true },
      ],
    };
    const { me } = await signInAndGetTokens(new TestBrowser(), url, 'github', { login: 'odd-emails' });
    expect(me).toMatchObject({ email: 'ok@example.test', emailVerified: true });
  });
});

describe('generic OAuth 2.0, configured only by variables', () => {
  it('lists GitHub and both generic providers with their labels and kinds', async () => {
    const { body } = await getJson(`${url}/auth/providers`);
    expect(body).toEqual([
      { id: 'github', name: 'GitHub', type: 'github' },
      { id: 'chat', name: 'Chat', type: 'oauth2' },
      { id: 'forum', name: 'Forum', type: 'oauth2' },
    ]);
  });

  it('signs in through the mapping (nested dotted paths, a numeric subject as decimal digits); the mapped verified field makes ADMIN_EMAILS admin', async () => {
    const me = (await getJson(`${url}/me`, adminToken)).body as Record<string, any>;
    expect(me).toMatchObject({ email: BOSS, emailVerified: true, name: 'The Boss', picture: `${chat.url}/avatars/1001.png` });
    expect(me.roles).toContain('admin');
    expect(me.identities).toEqual([expect.objectContaining({ provider: 'chat', subject: '1001' })]);
  });

  it('F2, F9: chat (PKCE on, client_secret_basic): S256 challenge, the verifier and Basic credentials at the token endpoint, the token in the header', async () => {
    const { authorizeUrl } = await browserSignIn(new TestBrowser(), url, 'chat', { login: 'f2-chat' });
    expect(authorizeUrl.searchParams.get('code_challenge_method')).toBe('S256');
    expect(authorizeUrl.searchParams.get('scope')).toBe('identify email');
    const token = lastLog(chat.log, '/oauth/token');
    expect(token.headers.authorization).toMatch(/^Basic /);
    expect(token.form.client_secret).toBeUndefined();
    expect(token.form.code_verifier).toEqual(expect.any(String));
    const me = lastLog(chat.log, '/api/me');
    expect(me.query).toEqual({});
    expect(me.headers.authorization).toMatch(/^Bearer /);
  });

  it('forum (PKCE off, client_secret_post): no challenge, the secret in the form, no Basic', async () => {
    const { authorizeUrl, result } = await browserSignIn(new TestBrowser(), url, 'forum', { login: 'post-forum' });
    expect(result.searchParams.get('code')).toEqual(expect.any(String));
    expect(authorizeUrl.searchParams.has('code_challenge')).toBe(false);
    expect(authorizeUrl.searchParams.has('scope')).toBe(true);
    const token = lastLog(forum.log, '/oauth/token');
    expect(token.headers.authorization).toBeUndefined();
    expect(token.form).toMatchObject({ client_id: 'forum-client', client_secret: 'forum-secret' });
  });

  it('I5: without a mapped verified field the email is unverified: the same confirmed ADMIN_EMAILS address at forum is not admin and never joins the boss’s account', async () => {
    forum.users.set('boss', { uid: 2002, mail: BOSS, mailConfirmed: true, displayName: 'Forum Boss' });
    const { me } = await signInAndGetTokens(new TestBrowser(), url, 'forum', { login: 'boss' });
    expect(me).toMatchObject({ email: BOSS, emailVerified: false });
    expect(me.roles).not.toContain('admin');
    expect(me.id).not.toBe(adminId);
    expect(me.identities).toEqual([expect.objectContaining({ provider: 'forum', subject: '2002' })]);
  });

  it('a mapped verified field that says false (or is missing) leaves the email unverified', async () => {
    chat.users.set('unconfirmed', { uid: 1002, mail: 'boss2@example.test', mailConfirmed: false });
    const { me } = await signInAndGetTokens(new TestBrowser(), url, 'chat', { login: 'unconfirmed' });
    expect(me).toMatchObject({ email: 'boss2@example.test', emailVerified: false, name: null });
  });

  it('a string subject is kept as it is', async () => {
    chat.users.set('snowflake', { uid: '80351110224678912', mail: 'snow@example.test', mailConfirmed: true });
    const { me } = await signInAndGetTokens(new TestBrowser(), url, 'chat', { login: 'snowflake' });
    expect(me.identities[0]).toMatchObject({ provider: 'chat', subject: '80351110224678912' });
  });

  it.each<[string, RawAnswer]>([
    ['no subject at the mapped path', { body: { data: { mail: 'x@example.test' } } }],
    ['a subject past 2^53 (JSON cannot carry it exactly)', { body: '{"data":{"uid":9007199254740993}}' }],
    ['a subject with a fraction', { body: { data: { uid: 1.5 } } }],
    ['a subject that is an object', { body: { data: { uid: { id: 1 } } } }],
    ['a list instead of an object', { body: [{ data: { uid: 1 } }] }],
    ['JSON null', { body: 'null' }],
    ['no JSON', { body: '<html>', contentType: 'text/html' }],
    ['a 401', { status: 401, body: { error: 'invalid_token' } }],
    ['the subject only under a __proto__ key', { body: '{"data":{"__proto__":{"uid":1}}}' }],
  ])('UserInfo with %s: provider_error, no account', async (_what, answer) => {
    const before = await db().getRepository(Identity).countBy({ provider: 'chat' });
    chat.meAnswer = answer;
    const { result } = await browserSignIn(new TestBrowser(), url, 'chat', { login: 'odd', returnTo });
    expect(outcome(result)).toEqual({ at: returnTo, error: 'provider_error', code: null });
    expect(await db().getRepository(Identity).countBy({ provider: 'chat' })).toBe(before);
  });

  it('a provider that refuses the authorization request (error response) ends at returnTo', async () => {
    const { result } = await browserSignIn(new TestBrowser(), url, 'forum', { cancel: true, returnTo });
    expect(outcome(result)).toEqual({ at: returnTo, error: 'access_denied', code: null });
  });
});

describe.each(['github', 'chat', 'forum'] as const)('%s: login state (checklist F1, F4, F5, F6, F8)', (provider) => {
  it('F1: a forged state is refused', async () => {
    const browser = new TestBrowser();
    const callback = await untilCallback(browser, provider);
    callback.searchParams.set('state', 'A'.repeat(43));
    const hop = await browser.request(callback.href);
    expect(outcome(new URL(hop.headers.get('location')!))).toEqual({ at: `${service.publicUrl}/`, error: 'invalid_state', code: null });
  });

  it('F1: a callback without state is refused', async () => {
    const browser = new TestBrowser();
    const callback = await untilCallback(browser, provider);
    callback.searchParams.delete('state');
    const hop = await browser.request(callback.href);
    expect(outcome(new URL(hop.headers.get('location')!)).error).toBe('invalid_state');
  });

  it('F1: a replayed callback (code and state) is refused, even with a copy of the login cookie; the code reaches the provider once', async () => {
    const browser = new TestBrowser();
    const callback = await untilCallback(browser, provider);
    const cookies = new Map(browser.cookies('127.0.0.1'));
    const first = await browser.request(callback.href);
    expect(outcome(new URL(first.headers.get('location')!))).toEqual({ at: returnTo, error: null, code: expect.any(String) });
    for (const [k, v] of cookies) browser.cookies('127.0.0.1').set(k, v);
    const replay = await browser.request(callback.href);
    expect(outcome(new URL(replay.headers.get('location')!))).toMatchObject({ error: 'invalid_state', code: null });
    const fake = provider === 'github' ? github : provider === 'chat' ? chat : forum;
    const code = callback.searchParams.get('code');
    expect(fake.log.filter((l) => l.form.code === code)).toHaveLength(1);
  });

  it('F6: the code is useless in another browser (no login cookie there)', async () => {
    const callback = await untilCallback(new TestBrowser(), provider);
    const hop = await new TestBrowser().request(callback.href);
    expect(outcome(new URL(hop.headers.get('location')!)).error).toBe('invalid_state');
  });

  it('F5: this provider’s code and state at another provider’s callback are refused: the state is bound to its provider', async () => {
    const browser = new TestBrowser();
    const callback = await untilCallback(browser, provider);
    const other = provider === 'github' ? 'chat' : 'github';
    const hop = await browser.request(callback.href.replace(`/auth/${provider}/callback`, `/auth/${other}/callback`));
    expect(outcome(new URL(hop.headers.get('location')!)).error).toBe('invalid_state');
  });

  it('F4: redirect_uri comes from PUBLIC_URL, never from Host or X-Forwarded-Host', async () => {
    const hop = await new TestBrowser().request(`${url}/auth/${provider}/login`, {
      headers: { host: 'evil.example', 'x-forwarded-host': 'evil.example' },
    });
    expect(new URL(hop.headers.get('location')!).searchParams.get('redirect_uri')).toBe(`${service.publicUrl}/auth/${provider}/callback`);
  });

  it('F2, F8: a fresh state (and PKCE challenge where on) on every login; the callback sends Referrer-Policy: no-referrer', async () => {
    const seen = new Set<string>();
    for (let i = 0; i < 2; i++) {
      const authorize = new URL((await new TestBrowser().request(`${url}/auth/${provider}/login`)).headers.get('location')!);
      seen.add(authorize.searchParams.get('state')!);
      if (provider !== 'forum') seen.add(authorize.searchParams.get('code_challenge')!);
    }
    expect(seen.size).toBe(provider === 'forum' ? 2 : 4);
    const browser = new TestBrowser();
    const hop = await browser.request((await untilCallback(browser, provider)).href);
    expect(hop.headers.get('referrer-policy')).toBe('no-referrer');
  });
});

describe('linking GitHub and a generic provider to an existing account (POST /me/identities/:provider/link)', () => {
  it('links both in the requester’s browser; later sign-ins with either land on that account', async () => {
    const browser = new TestBrowser();
    chat.users.set('linker', { uid: 1003, mail: 'linker@example.test', mailConfirmed: true, displayName: 'Linker' });
    const { result } = await browserSignIn(browser, url, 'chat', { login: 'linker' });
    const first = await exchangeCode(url, result.searchParams.get('code')!);
    const token = first.body.access_token as string;
    const isHome = (u: string) =>
      new URL(u).pathname === '/' && (new URL(u).searchParams.has('code') || new URL(u).searchParams.has('error'));
    for (const [provider, login] of [
      ['github', 'linked-gh'],
      ['forum', 'linked-forum'],
    ]) {
      const link = await postJson(`${url}/me/identities/${provider}/link`, {}, { authorization: `Bearer ${token}` });
      expect(link.status).toBe(200);
      const back = (await completeAtProvider(browser, (link.body.url as string).replace(service.publicUrl, url), isHome, { login })).result;
      expect(back.searchParams.get('code')).toEqual(expect.any(String));
    }
    const viaGithub = await signInAndGetTokens(new TestBrowser(), url, 'github', { login: 'linked-gh' });
    const viaForum = await signInAndGetTokens(new TestBrowser(), url, 'forum', { login: 'linked-forum' });
    const me = (await getJson(`${url}/me`, token)).body as Record<string, any>;
    expect(viaGithub.me.id).toBe(me.id);
    expect(viaForum.me.id).toBe(me.id);
    expect(me.identities.map((i: { provider: string }) => i.provider).sort()).toEqual(['chat', 'forum', 'github']);
  });
});

describe('GitHub Enterprise Server: GITHUB_URL alone, the API joined under /api/v3', () => {
  it('signs in through an Enterprise host served under a path, every API call under <GITHUB_URL>/api/v3', async () => {
    const ghe = await startGithubFake({ clientId: 'ghe-app', clientSecret: 'ghe-secret', enterprise: true, prefix: '/ghe' });
    const port = await freePort();
    ghe.callbackUrl = `http://127.0.0.1:${port}/auth/github/callback`;
    const enterprise = await startService(ghe.env, { port });
    try {
      ghe.users.set('hubber', {
        id: 31,
        login: 'hubber',
        name: 'Hubber',
        emails: [{ email: 'hubber@corp.example', primary: true, verified: true }],
      });
      const { authorizeUrl } = await browserSignIn(new TestBrowser(), enterprise.url, 'github', { login: 'hubber' });
      expect(authorizeUrl.href.startsWith(`${ghe.url}/ghe/login/oauth/authorize?`)).toBe(true);
      const { me } = await signInAndGetTokens(new TestBrowser(), enterprise.url, 'github', { login: 'hubber' });
      expect(me).toMatchObject({ email: 'hubber@corp.example', emailVerified: true });
      expect(me.identities[0]).toMatchObject({ provider: 'github', subject: '31' });
      const apiPaths = new Set(ghe.log.filter((l) => l.method === 'GET' && !l.path.includes('/login/')).map((l) => l.path));
      expect(apiPaths).toEqual(new Set(['/ghe/api/v3/user', '/ghe/api/v3/user/emails']));
      expect(enterprise.serverErrors).toEqual([]);
    } finally {
      await enterprise.close();
      await ghe.close();
    }
  });
});

describe('configuration errors are clear at start-up (the built service, dist/main.js)', () => {
  const cases: [string, Record<string, string>, string][] = [
    ['GitHub without its secret', { GITHUB_CLIENT_ID: 'gh' }, 'GITHUB_CLIENT_SECRET is required to enable GitHub'],
    [
      'a GitHub URL that is none',
      { GITHUB_CLIENT_ID: 'gh', GITHUB_CLIENT_SECRET: 'sekrit-1', GITHUB_URL: 'ghe.corp' },
      'GITHUB_URL must be an absolute http(s) URL',
    ],
    [
      'a generic provider without its token endpoint',
      {
        OAUTH_PROVIDERS: 'discord',
        OAUTH_DISCORD_CLIENT_ID: 'd',
        OAUTH_DISCORD_CLIENT_SECRET: 'sekrit-2',
        OAUTH_DISCORD_AUTHORIZATION_URL: 'https://discord.com/oauth2/authorize',
      },
      'OAUTH_DISCORD_TOKEN_URL is required because OAUTH_PROVIDERS lists "discord"',
    ],
    [
      'a field path into the prototype',
      { ...genericEnv('x'), OAUTH_X_EMAIL_FIELD: 'user.__proto__.email' },
      'OAUTH_X_EMAIL_FIELD must be a dotted path of field names',
    ],
    [
      'an unknown token auth method',
      { ...genericEnv('x'), OAUTH_X_TOKEN_AUTH_METHOD: 'private_key_jwt' },
      'OAUTH_X_TOKEN_AUTH_METHOD must be client_secret_basic or client_secret_post',
    ],
    ['a built-in id', genericEnv('github'), 'OAUTH_PROVIDERS entry "github" is a reserved id'],
  ];
  let results: { status: number | null; output: string }[];

  /** Starts `node dist/main.js` once per case, two at a time (each takes seconds to load); each must exit with 1. */
  beforeAll(async () => {
    const run = (env: Record<string, string>) =>
      new Promise<{ status: number | null; output: string }>((resolve) => {
        const child = spawn(process.execPath, ['dist/main.js'], {
          env: { PATH: process.env.PATH, NODE_OPTIONS: '', DEMO_IDP: 'false', PORT: '0', ...env },
          stdio: ['ignore', 'pipe', 'pipe'],
          timeout: 60_000,
        });
        let output = '';
        child.stdout.on('data', (d: Buffer) => (output += d.toString()));
        child.stderr.on('data', (d: Buffer) => (output += d.toString()));
        child.on('close', (status) => resolve({ status, output }));
      });
    results = [];
    for (let i = 0; i < cases.length; i += 2) results.push(...(await Promise.all(cases.slice(i, i + 2).map(([, env]) => run(env)))));
  }, 120_000);

  it.each(cases.map((c, i) => [c[0], i] as const))('%s: exit 1, the variable named, no secret printed', (_what, i) => {
    const [, env, message] = cases[i];
    const { status, output } = results[i];
    expect(status).toBe(1);
    expect(output).toContain(message);
    for (const [k, v] of Object.entries(env)) if (k.endsWith('SECRET')) expect(output).not.toContain(v);
  });
});

/** A complete generic provider's variables (endpoints nobody calls: the start fails before). */
function genericEnv(id: string): Record<string, string> {
  const p = `OAUTH_${id.toUpperCase()}_`;
  return {
    OAUTH_PROVIDERS: id,
    [`${p}CLIENT_ID`]: 'client',
    [`${p}CLIENT_SECRET`]: 'sekrit-3',
    [`${p}AUTHORIZATION_URL`]: 'https://provider.example/authorize',
    [`${p}TOKEN_URL`]: 'https://provider.example/token',
    [`${p}USERINFO_URL`]: 'https://provider.example/me',
  };
}
