import { ConfigError, loadConfig } from './config.js';
import { joinUrl } from './oauth-providers.js';

const generic = {
  OAUTH_PROVIDERS: 'Discord',
  OAUTH_DISCORD_CLIENT_ID: 'id',
  OAUTH_DISCORD_CLIENT_SECRET: 'secret',
  OAUTH_DISCORD_AUTHORIZATION_URL: 'https://discord.com/oauth2/authorize',
  OAUTH_DISCORD_TOKEN_URL: 'https://discord.com/api/oauth2/token',
  OAUTH_DISCORD_USERINFO_URL: 'https://discord.com/api/users/@me',
};
const load = (env: Record<string, string>) => loadConfig({ DEMO_IDP: 'false', ...env });

describe('GitHub configuration', () => {
  it('github.com by default: the web flow on github.com, the API on api.github.com', () => {
    expect(load({ GITHUB_CLIENT_ID: 'id', GITHUB_CLIENT_SECRET: 'secret' }).providers).toEqual([
      {
        id: 'github',
        name: 'GitHub',
        type: 'github',
        clientId: 'id',
        clientSecret: 'secret',
        authorizationUrl: 'https://github.com/login/oauth/authorize',
        tokenUrl: 'https://github.com/login/oauth/access_token',
        userUrl: 'https://api.github.com/user',
        emailsUrl: 'https://api.github.com/user/emails',
      },
    ]);
  });

  it('Enterprise: GITHUB_URL alone puts the API under <GITHUB_URL>/api/v3, paths joined, not replaced', () => {
    const [p] = load({ GITHUB_CLIENT_ID: 'id', GITHUB_CLIENT_SECRET: 'secret', GITHUB_URL: 'https://git.corp.test/' }).providers;
    expect(p).toMatchObject({
      authorizationUrl: 'https://git.corp.test/login/oauth/authorize',
      userUrl: 'https://git.corp.test/api/v3/user',
      emailsUrl: 'https://git.corp.test/api/v3/user/emails',
    });
    const [q] = load({
      GITHUB_CLIENT_ID: 'id',
      GITHUB_CLIENT_SECRET: 'secret',
      GITHUB_URL: 'https://corp.ghe.com',
      GITHUB_API_URL: 'https://api.corp.ghe.com',
    }).providers;
    expect(q).toMatchObject({ userUrl: 'https://api.corp.ghe.com/user' });
  });

  it('GITHUB_URL of github.com itself keeps api.github.com; a GHE.com subdomain gets its api. host', () => {
    const apiOf = (GITHUB_URL: string) =>
      (load({ GITHUB_CLIENT_ID: 'id', GITHUB_CLIENT_SECRET: 'secret', GITHUB_URL }).providers[0] as { userUrl: string }).userUrl;
    expect(apiOf('https://github.com')).toBe('https://api.github.com/user');
    expect(apiOf('https://octocorp.ghe.com')).toBe('https://api.octocorp.ghe.com/user');
    expect(apiOf('https://git.corp.test/github')).toBe('https://git.corp.test/github/api/v3/user');
  });

  it('refuses half a configuration, a URL that is none, and a base URL with a query', () => {
    expect(() => load({ GITHUB_CLIENT_SECRET: 'secret' })).toThrow(/GITHUB_CLIENT_ID is required to enable GitHub/);
    expect(() => load({ GITHUB_CLIENT_ID: 'id', GITHUB_CLIENT_SECRET: 's', GITHUB_API_URL: 'api.github.com' })).toThrow(
      /GITHUB_API_URL must be an absolute http\(s\) URL/,
    );
    expect(() => load({ GITHUB_CLIENT_ID: 'id', GITHUB_CLIENT_SECRET: 's', GITHUB_URL: 'https://ghe.test/?x=1' })).toThrow(
      /GITHUB_URL must be a base URL without query or fragment/,
    );
  });

  it('joinUrl keeps the base path, with or without slashes', () => {
    expect(joinUrl('https://h/api/v3', '/user')).toBe('https://h/api/v3/user');
    expect(joinUrl('https://h/api/v3/', 'user')).toBe('https://h/api/v3/user');
  });
});

describe('generic OAuth 2.0 configuration (OAUTH_PROVIDERS)', () => {
  it('reads a provider with the contract defaults: Basic, no PKCE, id/email/name/picture, no verified field', () => {
    expect(load(generic).providers).toEqual([
      {
        id: 'discord',
        name: 'discord',
        type: 'oauth2',
        clientId: 'id',
        clientSecret: 'secret',
        authorizationUrl: generic.OAUTH_DISCORD_AUTHORIZATION_URL,
        tokenUrl: generic.OAUTH_DISCORD_TOKEN_URL,
        userinfoUrl: generic.OAUTH_DISCORD_USERINFO_URL,
        scopes: [],
        tokenAuthMethod: 'client_secret_basic',
        pkce: false,
        fields: { subject: ['id'], email: ['email'], name: ['name'], picture: ['picture'] },
      },
    ]);
  });

  it('reads every option', () => {
    const [p] = load({
      ...generic,
      OAUTH_DISCORD_NAME: 'Discord',
      OAUTH_DISCORD_SCOPES: 'identify email',
      OAUTH_DISCORD_TOKEN_AUTH_METHOD: 'client_secret_post',
      OAUTH_DISCORD_PKCE: 'true',
      OAUTH_DISCORD_SUBJECT_FIELD: 'user.id',
      OAUTH_DISCORD_EMAIL_FIELD: 'user.email',
      OAUTH_DISCORD_EMAIL_VERIFIED_FIELD: 'user.verified',
      OAUTH_DISCORD_NAME_FIELD: 'user.global_name',
      OAUTH_DISCORD_PICTURE_FIELD: 'user.avatar_url',
    }).providers;
    expect(p).toMatchObject({
      name: 'Discord',
      scopes: ['identify', 'email'],
      tokenAuthMethod: 'client_secret_post',
      pkce: true,
      fields: {
        subject: ['user', 'id'],
        email: ['user', 'email'],
        emailVerified: ['user', 'verified'],
        name: ['user', 'global_name'],
        picture: ['user', 'avatar_url'],
      },
    });
  });

  it.each([
    [{ OAUTH_DISCORD_USERINFO_URL: '' }, /OAUTH_DISCORD_USERINFO_URL is required because OAUTH_PROVIDERS lists "discord"/],
    [{ OAUTH_DISCORD_CLIENT_SECRET: '' }, /OAUTH_DISCORD_CLIENT_SECRET is required/],
    [{ OAUTH_DISCORD_TOKEN_URL: 'discord.com/token' }, /OAUTH_DISCORD_TOKEN_URL must be an absolute http\(s\) URL/],
    [{ OAUTH_DISCORD_TOKEN_AUTH_METHOD: 'none' }, /OAUTH_DISCORD_TOKEN_AUTH_METHOD must be client_secret_basic or client_secret_post/],
    [{ OAUTH_DISCORD_PKCE: 'yes please' }, /OAUTH_DISCORD_PKCE must be true or false/],
    [{ OAUTH_DISCORD_SUBJECT_FIELD: 'user..id' }, /OAUTH_DISCORD_SUBJECT_FIELD must be a dotted path/],
    [{ OAUTH_DISCORD_EMAIL_VERIFIED_FIELD: 'constructor.name' }, /OAUTH_DISCORD_EMAIL_VERIFIED_FIELD must be a dotted path/],
    [{ OAUTH_PROVIDERS: 'dis cord' }, /OAUTH_PROVIDERS entry "dis cord" must be letters, digits/],
    [{ OAUTH_PROVIDERS: 'ha!' }, /OAUTH_PROVIDERS entry "ha!" must be letters, digits/],
    [{ OAUTH_PROVIDERS: 'microsoft' }, /"microsoft" is a reserved id/],
  ])('refuses %j at start-up, naming the variable', (change, message) => {
    expect(() => load({ ...generic, ...change })).toThrow(ConfigError);
    expect(() => load({ ...generic, ...change })).toThrow(message);
  });

  it('refuses an id used by a generic OIDC provider too', () => {
    expect(() =>
      load({
        ...generic,
        OIDC_PROVIDERS: 'discord',
        OIDC_DISCORD_ISSUER: 'https://discord.test',
        OIDC_DISCORD_CLIENT_ID: 'a',
        OIDC_DISCORD_CLIENT_SECRET: 'b',
      }),
    ).toThrow(/provider id "discord" is configured twice/);
  });

  it('never puts a secret into an error message', () => {
    try {
      load({ ...generic, OAUTH_DISCORD_CLIENT_SECRET: 'very-secret-value', OAUTH_DISCORD_PKCE: 'maybe' });
      throw new Error('no error');
    } catch (e) {
      expect((e as Error).message).not.toContain('very-secret-value');
    }
  });
});
