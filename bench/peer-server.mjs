// The certified peer for the refresh benchmark: oidc-provider's refresh_token grant with rotation and JWT access
// tokens, in its own process (like our service), in memory (its default adapter). Prints { url, refreshTokens }.
// Usage: peer-server.mjs [chains=10] [alg=RS256|ES256|EdDSA] — the access token's signature algorithm.
import { generateKeyPairSync } from 'node:crypto';
import { createServer } from 'node:http';
import Provider from 'oidc-provider';

const chains = Number(process.argv[2] ?? 10);
const alg = process.argv[3] ?? 'RS256';
const server = createServer();
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const url = `http://127.0.0.1:${server.address().port}`;
const resource = 'urn:bench:api';
const jwk = (type, options, kid, keyAlg) => ({
  ...generateKeyPairSync(type, options).privateKey.export({ format: 'jwk' }),
  kid,
  alg: keyAlg,
  use: 'sig',
});
// An RSA key always (oidc-provider's default ID-token algorithm is RS256; no ID token is signed at a refresh here), and
// a key of `alg` for the access token.
const keys = [jwk('rsa', { modulusLength: 2048 }, 'peer-rs', 'RS256')];
if (alg === 'ES256') keys.push(jwk('ec', { namedCurve: 'P-256' }, 'peer-es', 'ES256'));
else if (alg === 'EdDSA') keys.push(jwk('ed25519', undefined, 'peer-ed', 'EdDSA'));
else if (alg !== 'RS256') throw new Error(`unsupported alg ${alg}`);

const provider = new Provider(url, {
  clients: [
    {
      client_id: 'bench',
      client_secret: 'bench-secret',
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      redirect_uris: ['http://127.0.0.1/cb'],
      token_endpoint_auth_method: 'client_secret_post',
    },
  ],
  jwks: { keys },
  cookies: { keys: ['bench-cookie-key-0123456789'] },
  features: {
    devInteractions: { enabled: false },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => resource,
      useGrantedResource: () => true,
      getResourceServerInfo: () => ({ scope: 'api', audience: resource, accessTokenFormat: 'jwt', jwt: { sign: { alg } } }),
    },
  },
  rotateRefreshToken: true,
  issueRefreshToken: () => true,
  ttl: { AccessToken: 900, RefreshToken: 86_400, Grant: 86_400, Session: 3600, Interaction: 600, IdToken: 600, AuthorizationCode: 60 },
  findAccount: (_ctx, sub) => ({ accountId: sub, claims: () => ({ sub }) }),
});
provider.on('server_error', (_ctx, e) => console.error(e));
server.on('request', provider.callback());

// Refresh tokens as the code grant would have left them: one grant and one token per chain. No `openid` scope: with
// it, oidc-provider also signs an ID token at every refresh, two RS256 signatures to our one (earlier runs compared
// against that, which flattered us: BENCHMARKS.md).
const client = await provider.Client.find('bench');
const refreshTokens = [];
for (let i = 0; i < chains; i++) {
  const grant = new provider.Grant({ accountId: `user-${i}`, clientId: 'bench' });
  grant.addOIDCScope('offline_access');
  grant.addResourceScope(resource, 'api');
  const grantId = await grant.save();
  const token = new provider.RefreshToken({
    accountId: `user-${i}`,
    client,
    grantId,
    gty: 'authorization_code',
    scope: 'offline_access',
    resource,
    authTime: Math.floor(Date.now() / 1000),
    iiat: Math.floor(Date.now() / 1000),
    rotations: 0,
  });
  refreshTokens.push(await token.save());
}
process.stdout.write(`${JSON.stringify({ url, refreshTokens })}\n`);
