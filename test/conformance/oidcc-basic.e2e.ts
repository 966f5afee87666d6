import * as oidc from 'openid-client';
import { TestBrowser } from '../support/browser.js';
import { REDIRECT, authorizationRequest, startOpenIdWorld, type OpenIdWorld, type RegisteredClient } from '../support/relying-party.js';

/**
 * The OpenID Foundation's Basic OP certification plan (openid-certification/conformance-suite,
 * src/main/java/net/openid/conformance/openid/OIDCC*.java), one test per module, named by its id and asserting what
 * that module asserts, with openid-client 6 as the relying party. The first modules of issue 17; the rest of the plan
 * follows.
 */
let op: OpenIdWorld;
let client: RegisteredClient;
let rp: oidc.Configuration;

/** RFC 6749 §5.2: error_description is %x20-21 / %x23-5B / %x5D-7E (the suite's ValidateErrorDescription…). */
const ERROR_DESCRIPTION = /^[\x20-\x21\x23-\x5B\x5D-\x7E]*$/;

beforeAll(async () => {
  op = await startOpenIdWorld();
  client = await op.register({ name: 'Conformance', redirect_uris: [REDIRECT], first_party: true });
  rp = await op.relyingParty(client);
});

afterAll(async () => {
  await op?.world.close();
});

afterEach(() => {
  expect(op.world.service.serverErrors).toEqual([]);
});

describe('OpenID Foundation Basic OP plan', () => {
  it('oidcc-server', async () => {
    // AbstractOIDCCServerTest: a code flow whose authorization response, token response and ID token all validate,
    // then the access token used at a protected resource (UserInfo in this plan).
    const before = Math.floor(Date.now() / 1000);
    const { tokens, back, attempt } = await op.signInThroughUs(rp, new TestBrowser(), 'alice');
    expect(back.searchParams.get('state')).toBe(attempt.state);
    expect(back.searchParams.get('iss')).toBe(op.world.service.publicUrl);
    expect(tokens.token_type.toLowerCase()).toBe('bearer');
    expect(tokens.expires_in).toBeGreaterThan(0);
    const id = tokens.claims()!;
    expect(id.iss).toBe(op.world.service.publicUrl);
    expect([id.aud].flat()).toContain(client.client_id);
    expect(id.nonce).toBe(attempt.nonce);
    expect(typeof id.sub).toBe('string');
    expect(id.iat).toBeGreaterThanOrEqual(before - 5);
    expect(id.exp).toBeGreaterThan(Math.floor(Date.now() / 1000));
    const info = await oidc.fetchUserInfo(rp, tokens.access_token, id.sub);
    expect(info.sub).toBe(id.sub);
  });

  it('oidcc-codereuse', async () => {
    // OIDCCAuthCodeReuse: the same code a second time, at once → 400, JSON, invalid_grant, a valid error_description.
    const attempt = await authorizationRequest(rp);
    const { back } = await op.browse(new TestBrowser(), attempt.url, 'alice');
    const form = {
      grant_type: 'authorization_code',
      code: back.searchParams.get('code')!,
      redirect_uri: REDIRECT,
      code_verifier: attempt.verifier,
    };
    expect((await op.tokenRequest(form, client)).status).toBe(200);
    const again = await op.tokenRequest(form, client);
    expect(again.status).toBe(400);
    expect(again.headers.get('content-type')).toMatch(/^application\/json/);
    expect(again.body.error).toBe('invalid_grant');
    expect(again.body.error_description).toMatch(ERROR_DESCRIPTION);
  });

  it('oidcc-ensure-registered-redirect-uri', async () => {
    // OIDCCEnsureRegisteredRedirectUri: a random unregistered redirect URI → the server shows an error, never redirects.
    const attempt = await authorizationRequest(rp, { redirect_uri: `https://client.example/${oidc.randomState()}` });
    const res = await fetch(attempt.url, { redirect: 'manual' });
    expect(res.status).toBe(400);
    expect(res.headers.get('location')).toBeNull();
    expect(await res.text()).toMatch(/redirect_uri/);
  });

  it('oidcc-prompt-none-not-logged-in', async () => {
    // OIDCCPromptNoneNotLoggedIn: a 128-character state, prompt=none, no session → an error that needs a UI
    // (OIDC Core §3.1.2.6), state returned unchanged, at the redirect URI.
    const state = oidc.randomState().repeat(4).slice(0, 128).padEnd(128, 'x');
    const attempt = await authorizationRequest(rp, { prompt: 'none', state });
    const { back } = await op.browse(new TestBrowser(), attempt.url);
    expect(back.origin + back.pathname).toBe(REDIRECT);
    expect(['login_required', 'interaction_required', 'account_selection_required', 'consent_required']).toContain(
      back.searchParams.get('error'),
    );
    expect(back.searchParams.get('state')).toBe(state);
    expect(back.searchParams.get('error_description') ?? '').toMatch(ERROR_DESCRIPTION);
  });

  it('oidcc-prompt-none-logged-in', async () => {
    // OIDCCPromptNoneLoggedIn (AbstractOIDCCSameAuthTwiceServerTest): after a sign-in, prompt=none returns a code
    // without asking, and the second ID token has the same auth_time and sub.
    const browser = new TestBrowser();
    const first = await op.signInThroughUs(rp, browser, 'alice');
    const second = await op.signInThroughUs(rp, browser, undefined, { prompt: 'none' });
    expect(second.sawSignInPage).toBe(false);
    expect(second.tokens.claims()!.auth_time).toBe(first.tokens.claims()!.auth_time);
    expect(second.tokens.claims()!.sub).toBe(first.tokens.claims()!.sub);
  });
});
