import { DomainError } from '../common/domain-error.js';
import { oauthMetadata } from './oauth-metadata.js';

const refusal = (input: Parameters<typeof oauthMetadata>[0]) => {
  try {
    oauthMetadata(input);
  } catch (e) {
    return e instanceof DomainError ? `${e.code}: ${e.description}` : String(e);
  }
  return 'accepted';
};

describe('OAuth client metadata (RFC 7591 names, defaults of shared/docs/http-api.md)', () => {
  it('defaults: client_credentials without redirect URIs; code and refresh with them; client_secret_basic; not first party', () => {
    expect(oauthMetadata({})).toEqual({
      redirectUris: null,
      postLogoutRedirectUris: null,
      grantTypes: ['client_credentials'],
      tokenEndpointAuthMethod: 'client_secret_basic',
      backchannelLogoutUri: null,
      firstParty: false,
    });
    expect(oauthMetadata({ redirect_uris: ['https://app.example/cb', 'https://app.example/cb'] })).toMatchObject({
      redirectUris: ['https://app.example/cb'],
      grantTypes: ['authorization_code', 'refresh_token'],
    });
  });

  it('keeps redirect URIs exactly as given (the authorization endpoint compares strings), loopback included', () => {
    const uris = ['http://127.0.0.1:8080/cb', 'https://app.example/cb?tenant=a', 'https://APP.example/cb/'];
    expect(oauthMetadata({ redirect_uris: uris }).redirectUris).toEqual(uris);
  });

  it.each([
    [{ redirect_uris: ['/relative'] }, 'absolute'],
    [{ redirect_uris: ['javascript:alert(1)'] }, 'http or https'],
    [{ redirect_uris: ['https://app.example/cb#x'] }, 'fragment'],
    [{ grant_types: ['authorization_code'] }, 'needs redirect_uris'],
    [{ grant_types: ['refresh_token', 'client_credentials'] }, 'needs the authorization_code grant'],
    [{ redirect_uris: ['https://a.example/cb'], grant_types: ['client_credentials'] }, 'only for the authorization_code grant'],
    [{ token_endpoint_auth_method: 'none' }, 'cannot use client_credentials'],
    [{ token_endpoint_auth_method: 'client_secret_jwt' }, 'token_endpoint_auth_method'],
    [{ grant_types: ['password'] }, 'not supported'],
    [{ grant_types: [] }, 'must not be empty'],
    [{ backchannel_logout_uri: 'ftp://x.example/' }, 'http or https'],
  ])('refuses %j (%s)', (input, why) => {
    const answer = refusal(input);
    expect(answer).toMatch(/^invalid_request: /);
    expect(answer).toContain(why);
  });
});
