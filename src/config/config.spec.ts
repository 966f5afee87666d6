import { generateKeyPairSync } from 'node:crypto';
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
    expect(c.backchannelLogout).toEqual({ attempts: 5, retryMs: 15_000, timeoutMs: 5_000 });
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

describe('Sign in with Apple and Microsoft (issue 18)', () => {
  const appleKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'pem', type: 'pkcs8' }) as string;
  const apple = {
    DEMO_IDP: 'false',
    APPLE_CLIENT_ID: 'com.example.web',
    APPLE_TEAM_ID: 'TEAM',
    APPLE_KEY_ID: 'KEY',
    APPLE_PRIVATE_KEY: appleKey,
  };
  const microsoft = { DEMO_IDP: 'false', MICROSOFT_CLIENT_ID: 'id', MICROSOFT_CLIENT_SECRET: 'secret' };

  it('Apple: Apple’s endpoints, its issuer kept when they are overridden', () => {
    expect(loadConfig(apple).providers).toEqual([
      expect.objectContaining({
        id: 'apple',
        type: 'apple',
        name: 'Apple',
        clientId: 'com.example.web',
        teamId: 'TEAM',
        keyId: 'KEY',
        issuer: 'https://appleid.apple.com',
        authorizationUrl: 'https://appleid.apple.com/auth/authorize',
        tokenUrl: 'https://appleid.apple.com/auth/token',
        jwksUrl: 'https://appleid.apple.com/auth/keys',
      }),
    ]);
    const moved = loadConfig({ ...apple, APPLE_TOKEN_URL: 'http://127.0.0.1:9/token' }).providers[0];
    expect(moved).toMatchObject({ tokenUrl: 'http://127.0.0.1:9/token', issuer: 'https://appleid.apple.com' });
  });

  it.each(['APPLE_CLIENT_ID', 'APPLE_TEAM_ID', 'APPLE_KEY_ID', 'APPLE_PRIVATE_KEY'])('Apple: names a missing %s', (name) => {
    expect(() => loadConfig({ ...apple, [name]: '' })).toThrow(new RegExp(`${name} is required`));
  });

  it('Apple: a key on one line with literal \\n (as .env files carry it) is read', () => {
    expect(loadConfig({ ...apple, APPLE_PRIVATE_KEY: appleKey.trim().replace(/\n/g, '\\n') }).providers[0]).toMatchObject({
      type: 'apple',
    });
  });

  it('Apple: a key that is no PEM, or no P-256 EC key, is a start-up error that does not print it', () => {
    expect(() => loadConfig({ ...apple, APPLE_PRIVATE_KEY: 'not-a-key-but-a-secret' })).toThrow(/APPLE_PRIVATE_KEY must be the PEM/);
    try {
      loadConfig({ ...apple, APPLE_PRIVATE_KEY: 'not-a-key-but-a-secret' });
    } catch (e) {
      expect((e as Error).message).not.toContain('not-a-key-but-a-secret');
    }
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'pem', type: 'pkcs8' }) as string;
    expect(() => loadConfig({ ...apple, APPLE_PRIVATE_KEY: rsa })).toThrow(/EC P-256/);
  });

  it('Microsoft: tenant common by default, its endpoints built from the tenant', () => {
    expect(loadConfig(microsoft).providers[0]).toEqual({
      id: 'microsoft',
      name: 'Microsoft',
      type: 'microsoft',
      clientId: 'id',
      clientSecret: 'secret',
      tenant: 'common',
      tenants: [],
      authorizationUrl: 'https://login.microsoftonline.com/common/oauth2/v2.0/authorize',
      tokenUrl: 'https://login.microsoftonline.com/common/oauth2/v2.0/token',
      jwksUrl: 'https://login.microsoftonline.com/common/discovery/v2.0/keys',
    });
    const tid = '72F988BF-86F1-41AF-91AB-2D7CD011DB47';
    expect(
      loadConfig({ ...microsoft, MICROSOFT_TENANT: tid, MICROSOFT_TENANTS: `${tid}, 9188040d-6c67-4c5b-b112-36a304b66dad` }).providers[0],
    ).toMatchObject({
      tenant: tid.toLowerCase(),
      tenants: [tid.toLowerCase(), '9188040d-6c67-4c5b-b112-36a304b66dad'],
      tokenUrl: `https://login.microsoftonline.com/${tid.toLowerCase()}/oauth2/v2.0/token`,
    });
  });

  it('Microsoft: refuses a tenant that is no keyword or id, and a MICROSOFT_TENANTS entry that is no id', () => {
    expect(() => loadConfig({ ...microsoft, MICROSOFT_TENANT: 'contoso.onmicrosoft.com' })).toThrow(/MICROSOFT_TENANT must be/);
    expect(() => loadConfig({ ...microsoft, MICROSOFT_TENANT: '../common' })).toThrow(/MICROSOFT_TENANT must be/);
    expect(() => loadConfig({ ...microsoft, MICROSOFT_TENANTS: 'contoso' })).toThrow(/MICROSOFT_TENANTS entry "contoso"/);
    expect(() => loadConfig({ ...microsoft, MICROSOFT_CLIENT_SECRET: '' })).toThrow(/MICROSOFT_CLIENT_SECRET is required/);
    const tid = '72f988bf-86f1-41af-91ab-2d7cd011db47';
    expect(() => loadConfig({ ...microsoft, MICROSOFT_TENANT: tid, MICROSOFT_TENANTS: '9188040d-6c67-4c5b-b112-36a304b66dad' })).toThrow(
      /MICROSOFT_TENANTS does not list MICROSOFT_TENANT/,
    );
  });

  it('apple and microsoft are reserved OIDC_PROVIDERS ids', () => {
    expect(() => loadConfig({ ...oidc, OIDC_PROVIDERS: 'apple' })).toThrow(/reserved id/);
  });
});
