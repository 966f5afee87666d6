import { ConfigError, loadConfig } from './config.js';

const oidc = {
  OIDC_PROVIDERS: 'corp',
  OIDC_CORP_ISSUER: 'https://sso.corp.test',
  OIDC_CORP_CLIENT_ID: 'id',
  OIDC_CORP_CLIENT_SECRET: 'secret',
};

describe('loadConfig', () => {
  it('applies the contract defaults', () => {
    const c = loadConfig({ DEMO_IDP: 'false' });
    expect(c.port).toBe(3000);
    expect(c.publicUrl).toBe('http://localhost:3000');
    expect(c.database).toEqual({ type: 'sqlite', path: './data/app.db' });
    expect(c.dataDir).toBe('./data');
    expect(c.jwt).toEqual({
      alg: 'RS256',
      audience: 'http://localhost:3000',
      accessTokenTtl: 900,
      refreshTokenTtl: 2592000,
      refreshIdleTtl: 1209600,
      refreshReuseGrace: 30,
    });
    expect(c.allowedReturnUrls).toEqual(['http://localhost:3000']);
    expect(c.autoLinkVerifiedEmail).toBe(false);
    expect(c.providers).toEqual([]);
    expect(c.rateLimits).toBe(true);
  });

  it('enables the demo provider outside production only', () => {
    expect(loadConfig({}).providers.map((p) => p.id)).toEqual(['demo']);
    expect(loadConfig({ NODE_ENV: 'production', APP_SECRET: 's'.repeat(32) }).providers).toEqual([]);
  });

  it('requires APP_SECRET in production', () => {
    expect(() => loadConfig({ NODE_ENV: 'production' })).toThrow(/APP_SECRET is required/);
  });

  it.each([
    [{ GOOGLE_CLIENT_ID: 'x' }, 'GOOGLE_CLIENT_SECRET'],
    [{ FACEBOOK_CLIENT_SECRET: 'x' }, 'FACEBOOK_CLIENT_ID'],
    [{ ...oidc, OIDC_CORP_ISSUER: undefined }, 'OIDC_CORP_ISSUER'],
    [{ ...oidc, OIDC_CORP_CLIENT_SECRET: '' }, 'OIDC_CORP_CLIENT_SECRET'],
  ])('names the missing variable of an incomplete provider (%o)', (env, name) => {
    expect(() => loadConfig(env as Record<string, string>)).toThrow(ConfigError);
    expect(() => loadConfig(env as Record<string, string>)).toThrow(name);
  });

  it('never puts a secret into an error message', () => {
    try {
      loadConfig({ GOOGLE_CLIENT_SECRET: 'super-secret-value' });
    } catch (e) {
      expect((e as Error).message).not.toContain('super-secret-value');
    }
    expect.assertions(1);
  });

  it('reads any number of OIDC providers with their options', () => {
    const c = loadConfig({
      DEMO_IDP: 'false',
      ...oidc,
      OIDC_PROVIDERS: 'corp, Keycloak',
      OIDC_KEYCLOAK_ISSUER: 'https://kc.test/realms/x',
      OIDC_KEYCLOAK_CLIENT_ID: 'kc',
      OIDC_KEYCLOAK_CLIENT_SECRET: 'kcs',
      OIDC_KEYCLOAK_NAME: 'Keycloak',
      OIDC_KEYCLOAK_SCOPES: 'email groups',
      OIDC_KEYCLOAK_ROLES_CLAIM: 'groups',
    });
    expect(c.providers).toEqual([
      expect.objectContaining({ id: 'corp', name: 'corp', type: 'oidc', scopes: ['openid', 'email', 'profile'] }),
      expect.objectContaining({
        id: 'keycloak',
        name: 'Keycloak',
        issuer: 'https://kc.test/realms/x',
        scopes: ['openid', 'email', 'groups'],
        rolesClaim: 'groups',
      }),
    ]);
  });

  it('reads OIDC_<ID>_TOKEN_AUTH_METHOD, and leaves it unset for discovery to decide', () => {
    const forced = loadConfig({ DEMO_IDP: 'false', ...oidc, OIDC_CORP_TOKEN_AUTH_METHOD: 'client_secret_post' });
    expect(forced.providers[0]).toMatchObject({ tokenAuthMethod: 'client_secret_post' });
    expect(loadConfig({ DEMO_IDP: 'false', ...oidc }).providers[0]).not.toHaveProperty('tokenAuthMethod');
  });

  it.each(['client_secret_jwt', 'private_key_jwt', 'basic', 'CLIENT_SECRET_BASIC'])(
    'refuses OIDC_<ID>_TOKEN_AUTH_METHOD=%s at start-up, naming the variable',
    (method) => {
      expect(() => loadConfig({ ...oidc, OIDC_CORP_TOKEN_AUTH_METHOD: method })).toThrow(
        'OIDC_CORP_TOKEN_AUTH_METHOD must be client_secret_basic or client_secret_post',
      );
    },
  );

  it('pins a current Facebook Graph version and builds its URLs from it', () => {
    const c = loadConfig({ DEMO_IDP: 'false', FACEBOOK_CLIENT_ID: 'a', FACEBOOK_CLIENT_SECRET: 'b', FACEBOOK_GRAPH_VERSION: 'v23.0' });
    expect(c.providers[0]).toMatchObject({ graphVersion: 'v23.0', tokenUrl: 'https://graph.facebook.com/v23.0/oauth/access_token' });
    expect(loadConfig({ DEMO_IDP: 'false', FACEBOOK_CLIENT_ID: 'a', FACEBOOK_CLIENT_SECRET: 'b' }).providers[0]).toMatchObject({
      graphVersion: 'v24.0',
    });
  });

  it('keeps Google’s issuer when its endpoints are overridden', () => {
    const c = loadConfig({
      DEMO_IDP: 'false',
      GOOGLE_CLIENT_ID: 'a',
      GOOGLE_CLIENT_SECRET: 'b',
      GOOGLE_TOKEN_URL: 'http://127.0.0.1:1/token',
    });
    expect(c.providers[0]).toMatchObject({ issuer: 'https://accounts.google.com', tokenUrl: 'http://127.0.0.1:1/token' });
  });

  it.each([
    [{ JWT_ALG: 'HS256' }, 'JWT_ALG'],
    [{ PUBLIC_URL: 'ftp://x' }, 'PUBLIC_URL'],
    [{ DATABASE_URL: 'mysql://x' }, 'DATABASE_URL'],
    [{ OIDC_PROVIDERS: 'google' }, 'reserved'],
    [{ ALLOWED_RETURN_URLS: 'not a url' }, 'ALLOWED_RETURN_URLS'],
    [{ AUTO_LINK_VERIFIED_EMAIL: 'maybe' }, 'AUTO_LINK_VERIFIED_EMAIL'],
    [{ REFRESH_REUSE_GRACE: '-1' }, 'REFRESH_REUSE_GRACE'],
    [{ REFRESH_REUSE_GRACE: '2.5' }, 'REFRESH_REUSE_GRACE'],
    [{ REFRESH_REUSE_GRACE: '301' }, 'REFRESH_REUSE_GRACE'],
    [{ REFRESH_REUSE_GRACE: 'soon' }, 'REFRESH_REUSE_GRACE'],
  ])('refuses invalid values (%o)', (env, word) => {
    expect(() => loadConfig(env)).toThrow(word);
  });

  it('reads REFRESH_REUSE_GRACE in seconds, 0 turning the grace off', () => {
    expect(loadConfig({ REFRESH_REUSE_GRACE: '0' }).jwt.refreshReuseGrace).toBe(0);
    expect(loadConfig({ REFRESH_REUSE_GRACE: '300' }).jwt.refreshReuseGrace).toBe(300);
  });

  it('reads postgres URLs and lower-cases admin emails', () => {
    const c = loadConfig({ DATABASE_URL: 'postgres://u@127.0.0.1/test', ADMIN_EMAILS: 'Boss@Example.com, ops@example.com' });
    expect(c.database).toEqual({ type: 'postgres', url: 'postgres://u@127.0.0.1/test' });
    expect(c.adminEmails).toEqual(['boss@example.com', 'ops@example.com']);
  });

  it('folds ADMIN_EMAILS in ASCII only, as profile emails are: a look-alike stays its own address', () => {
    const c = loadConfig({ ADMIN_EMAILS: '\u212Aate@Corp.test,İNFO@corp.test' });
    expect(c.adminEmails).toEqual(['\u212Aate@corp.test', 'İnfo@corp.test']);
  });
});
