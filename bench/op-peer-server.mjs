// The certified peer for the OpenID Provider login benchmark: oidc-provider 9 standalone, configured as our
// OPENID_PROVIDER=true is for a first-party client (authorization code + PKCE S256, client_secret_basic, RS256 ID
// token and RS256 RFC 9068 JWT access token, a refresh token with rotation, no consent: the grant is implied, as
// OidcProviderService.grantFor does), in memory (its default adapter), in its own process.
// Usage: op-peer-server.mjs <redirect_uri>; prints { url, client_id, client_secret }.
// Its login is the smallest interaction there is: GET /interaction/:uid signs in the account named by the
// authorization request's login_hint (once per browser; later logins ride on its own `_session` cookie).
import { generateKeyPairSync } from 'node:crypto';
import { createServer } from 'node:http';
import Provider from 'oidc-provider';

const redirectUri = process.argv[2];
const server = createServer();
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const url = `http://127.0.0.1:${server.address().port}`;
const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const client = { client_id: 'bench-app', client_secret: 'bench-app-secret-0123456789' };

const provider = new Provider(url, {
  clients: [
    {
      ...client,
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      redirect_uris: [redirectUri],
      token_endpoint_auth_method: 'client_secret_basic',
    },
  ],
  jwks: { keys: [{ ...privateKey.export({ format: 'jwk' }), kid: 'peer', alg: 'RS256', use: 'sig' }] },
  cookies: { keys: ['bench-cookie-key-0123456789'] },
  pkce: { required: () => true },
  interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
  features: {
    devInteractions: { enabled: false },
    resourceIndicators: {
      enabled: true,
      // Our access token: an RFC 9068 JWT for one audience, signed RS256 (like JWT_AUDIENCE with JWT_ALG=RS256).
      defaultResource: () => url,
      useGrantedResource: () => true,
      getResourceServerInfo: () => ({ scope: 'openid', audience: url, accessTokenFormat: 'jwt', jwt: { sign: { alg: 'RS256' } } }),
    },
  },
  // First party: the grant is implied (oidc-provider's documented "skip consent" recipe, as our grantFor does).
  loadExistingGrant: async (ctx) => {
    const grantId = ctx.oidc.result?.consent?.grantId ?? ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    const grant =
      (grantId && (await ctx.oidc.provider.Grant.find(grantId))) ||
      new ctx.oidc.provider.Grant({ accountId: ctx.oidc.session.accountId, clientId: ctx.oidc.client.clientId });
    grant.addOIDCScope('openid');
    grant.addResourceScope(url, 'openid');
    await grant.save();
    return grant;
  },
  issueRefreshToken: () => true, // ours gives first-party clients one with `openid` alone
  rotateRefreshToken: true,
  ttl: { AccessToken: 900, RefreshToken: 86_400, Grant: 86_400, Session: 86_400, Interaction: 600, IdToken: 600, AuthorizationCode: 60 },
  findAccount: (_ctx, sub) => ({ accountId: sub, claims: () => ({ sub }) }),
});
provider.on('server_error', (_ctx, e) => console.error(e));

const interaction = /^\/interaction\/([\w-]+)$/;
const callback = provider.callback();
server.on('request', async (req, res) => {
  if (!interaction.test(req.url)) return callback(req, res);
  try {
    const details = await provider.interactionDetails(req, res);
    const accountId = details.params.login_hint ?? 'user';
    await provider.interactionFinished(req, res, { login: { accountId } }, { mergeWithLastSubmission: false });
  } catch (e) {
    console.error(e);
    res.statusCode = 500;
    res.end();
  }
});
process.stdout.write(`${JSON.stringify({ url, ...client })}\n`);
