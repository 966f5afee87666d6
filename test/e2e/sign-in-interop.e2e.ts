import { TestBrowser } from '../support/browser.js';
import { browserSignIn, callApi, signInAndGetTokens } from '../support/sign-in.js';
import { startWorld, type World } from '../support/world.js';

/** Providers that do things their own (allowed) way: how the client authenticates, when keys rotate (issue 15). */
let world: World;
let url: string;
let adminToken: string;

beforeAll(async () => {
  world = await startWorld(
    {
      ADMIN_EMAILS: 'root@corp.test',
      OIDC_FORCEDPOST_TOKEN_AUTH_METHOD: 'client_secret_post',
      OIDC_WRONGMETHOD_TOKEN_AUTH_METHOD: 'client_secret_post',
    },
    {
      standIns: {
        // Each token endpoint accepts one method only, as LemonLDAP::NG does for a client registered with it.
        basiconly: {
          clientAuthMethods: ['client_secret_basic'],
          // A secret with characters that RFC 6749 §2.3.1's form-urlencoding must escape before Basic.
          client: { token_endpoint_auth_method: 'client_secret_basic', client_secret: 'a secret: with/special+chars%and=more' },
        },
        postonly: { clientAuthMethods: ['client_secret_post'], client: { token_endpoint_auth_method: 'client_secret_post' } },
        // Lists both: client_secret_basic is the one to use (only it works here).
        both: {
          clientAuthMethods: ['client_secret_basic'],
          advertisedAuthMethods: ['client_secret_post', 'client_secret_basic'],
          client: { token_endpoint_auth_method: 'client_secret_basic' },
        },
        // Lists nothing: Discovery §3's default, client_secret_basic.
        unlisted: {
          clientAuthMethods: ['client_secret_basic'],
          advertisedAuthMethods: null,
          client: { token_endpoint_auth_method: 'client_secret_basic' },
        },
        // Discovery says Basic, the client is registered with the form body: OIDC_FORCEDPOST_TOKEN_AUTH_METHOD knows better.
        forcedpost: {
          clientAuthMethods: ['client_secret_post'],
          advertisedAuthMethods: ['client_secret_basic'],
          client: { token_endpoint_auth_method: 'client_secret_post' },
        },
        // Rotates its only signing key when a test says so.
        rotating: {},
        // Sign ID tokens with the client secret (HMAC), as some providers do by default for new clients.
        hs256: {
          idTokenSigningAlgValues: ['HS256', 'RS256'],
          client: { id_token_signed_response_alg: 'HS256', client_secret: 'an-hmac-client-secret-of-at-least-32-bytes' },
        },
        hs512: {
          idTokenSigningAlgValues: ['HS512', 'RS256'],
          client: {
            id_token_signed_response_alg: 'HS512',
            client_secret: 'an-hmac-client-secret-long-enough-for-hs512-0123456789abcdefghijklmn',
          },
        },
        // Accepts only Basic, but the configuration forces the form body: a refusal to see in the audit.
        wrongmethod: { clientAuthMethods: ['client_secret_basic'], client: { token_endpoint_auth_method: 'client_secret_basic' } },
      },
    },
  );
  url = world.service.url;
  world.corp.accounts.set('root', { email: 'root@corp.test', email_verified: true, name: 'Root' });
  adminToken = (await signInAndGetTokens(new TestBrowser(), url, 'corp', { login: 'root' })).tokens.access_token;
});

afterAll(async () => {
  await world?.close();
});

afterEach(() => {
  world.proxy.tamper = undefined;
  expect(world.service.serverErrors).toEqual([]);
});

describe('token endpoint authentication: chosen from discovery, or forced by OIDC_<ID>_TOKEN_AUTH_METHOD', () => {
  it.each([
    ['basiconly', 'a provider that lists and accepts only client_secret_basic (credentials form-urlencoded, RFC 6749 §2.3.1)'],
    ['postonly', 'a provider that lists and accepts only client_secret_post'],
    ['both', 'a provider that lists both: client_secret_basic is preferred'],
    ['unlisted', 'a provider whose discovery has no token_endpoint_auth_methods_supported: client_secret_basic'],
    ['forcedpost', 'a provider whose discovery says client_secret_basic, forced to client_secret_post by configuration'],
  ])('%s: signs in (%s)', async (provider) => {
    const { me } = await signInAndGetTokens(new TestBrowser(), url, provider, { login: `user-of-${provider}` });
    expect(me.identities).toEqual([expect.objectContaining({ provider, subject: `user-of-${provider}` })]);
  });

  it('a forced method the provider refuses: provider_error, and the provider’s invalid_client is in the audit row', async () => {
    const { result } = await browserSignIn(new TestBrowser(), url, 'wrongmethod', { login: 'refused' });
    expect(result.searchParams.get('error')).toBe('provider_error');
    const audit = await callApi(url, 'GET', '/admin/audit?type=sign_in_failed&limit=20', adminToken);
    const row = (audit.body.items as { provider: string; details: Record<string, unknown> }[]).find((e) => e.provider === 'wrongmethod');
    expect(row?.details).toMatchObject({ providerError: 'invalid_client', providerErrorDescription: expect.any(String) });
  });
});

describe('signing keys: a rotation without overlap, and ID tokens with unknown kids', () => {
  it('a sign-in right after the provider replaced its only key succeeds: an unknown kid refetches the JWKS at once (OIDC Core §10.1.1)', async () => {
    const op = world.standIns.rotating;
    await signInAndGetTokens(new TestBrowser(), url, 'rotating', { login: 'before-rotation' });
    const fetched = op.jwksFetches;
    op.rotateKey();
    // Several people at once, right after the rotation: all sign in, with one fetch between them.
    const after = await Promise.all(
      ['after-rotation', 'at-once-1', 'at-once-2'].map((login) => signInAndGetTokens(new TestBrowser(), url, 'rotating', { login })),
    );
    expect(after.map(({ me }) => me.identities[0].subject)).toEqual(['after-rotation', 'at-once-1', 'at-once-2']);
    expect(op.jwksFetches).toBe(fetched + 1);
    // And again straight away: the new key is cached, nothing is fetched.
    await signInAndGetTokens(new TestBrowser(), url, 'rotating', { login: 'after-rotation-2' });
    expect(op.jwksFetches).toBe(fetched + 1);
  });

  it('a flood of ID tokens with unknown kids is refused, and fetches the JWKS at most once per few seconds', async () => {
    await signInAndGetTokens(new TestBrowser(), url, 'shady', { login: 'before-flood' });
    const fetched = world.shady.jwksFetches;
    const started = Date.now();
    world.proxy.tamper = 'unknown-kid';
    for (let i = 0; i < 15; i++) {
      const { result } = await browserSignIn(new TestBrowser(), url, 'shady', { login: `flood-${i}` });
      expect(result.searchParams.get('error')).toBe('invalid_id_token');
    }
    // One refetch for the first unknown kid, then at most one per 5 s window (UNKNOWN_KID_REFETCH_MS).
    const windows = Math.floor((Date.now() - started) / 5000) + 1;
    expect(world.shady.jwksFetches - fetched).toBeGreaterThanOrEqual(1);
    expect(world.shady.jwksFetches - fetched).toBeLessThanOrEqual(windows);
  });
});

describe('ID tokens signed with a shared secret', () => {
  it.each(['hs256', 'hs512'])('%s: refused as invalid_id_token, saying which algorithm to pick instead', async (provider) => {
    const op = world.standIns[provider];
    const fetched = op.jwksFetches;
    const { result } = await browserSignIn(new TestBrowser(), url, provider, { login: 'hmac-user' });
    expect(result.searchParams.get('error')).toBe('invalid_id_token');
    expect(result.searchParams.get('error_description')).toMatch(/HS(256|512).*RS256 or ES256/);
    // Refused on its header alone: no key was looked up for it.
    expect(op.jwksFetches).toBe(fetched);
  });
});
