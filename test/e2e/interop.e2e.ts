import { createPublicKey } from 'node:crypto';
import { createVerifier as fastJwtVerifier } from 'fast-jwt';
import buildGetJwks from 'get-jwks';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import jsonwebtoken from 'jsonwebtoken';
import jwksRsa from 'jwks-rsa';
import { ExtractJwt, Strategy as JwtStrategy } from 'passport-jwt';
import type { JwtAlg } from '../../src/config/config.js';
import { insertSession } from '../support/factories.js';
import { startService, type RunningService } from '../support/service.js';

/**
 * Apps that will not use our kit verify our access tokens with the library they already have, through the JWKS and
 * nothing else: jose, jsonwebtoken + jwks-rsa, passport-jwt + jwks-rsa, fast-jwt + get-jwks. Each must accept a
 * real token and refuse the same token with one signature byte changed.
 */
type Verify = (token: string, ctx: { issuer: string; alg: JwtAlg }) => Promise<string>;

const jose: Verify = async (token, { issuer, alg }) => {
  const jwks = createRemoteJWKSet(new URL(`${issuer}/.well-known/jwks.json`));
  const { payload } = await jwtVerify(token, jwks, { issuer, audience: issuer, algorithms: [alg], typ: 'at+jwt' });
  return payload.sub!;
};

const jsonwebtokenWithJwksRsa: Verify = async (token, { issuer, alg }) => {
  const client = jwksRsa({ jwksUri: `${issuer}/.well-known/jwks.json` });
  const { kid } = jsonwebtoken.decode(token, { complete: true })!.header;
  const key = (await client.getSigningKey(kid)).getPublicKey();
  const claims = jsonwebtoken.verify(token, key, { algorithms: [alg as jsonwebtoken.Algorithm], issuer, audience: issuer });
  return (claims as jsonwebtoken.JwtPayload).sub!;
};

const passportJwt: Verify = (token, { issuer, alg }) =>
  new Promise((resolve, reject) => {
    const strategy = new JwtStrategy(
      {
        secretOrKeyProvider: jwksRsa.passportJwtSecret({ jwksUri: `${issuer}/.well-known/jwks.json` }),
        jwtFromRequest: ExtractJwt.fromAuthHeaderAsBearerToken(),
        issuer,
        audience: issuer,
        algorithms: [alg as jsonwebtoken.Algorithm],
      },
      (payload: { sub: string }, done: (e: unknown, user?: unknown) => void) => done(null, payload.sub),
    );
    // Passport's strategy contract: it ends in exactly one of success, fail or error.
    Object.assign(strategy, {
      success: (sub: string) => resolve(sub),
      fail: (info: unknown) => reject(new Error(String((info as Error)?.message ?? info))),
      error: (e: Error) => reject(e),
    });
    strategy.authenticate({ headers: { authorization: `Bearer ${token}` } } as never);
  });

const fastJwtWithGetJwks: Verify = async (token, { issuer, alg }) => {
  const getJwks = buildGetJwks({ providerDiscovery: true, issuersWhitelist: [`${issuer}/`] });
  const verify = fastJwtVerifier({
    // jwk-to-pem (get-jwks' converter) knows RSA and EC only; an Ed25519 JWK goes through node:crypto instead.
    key: async ({ header }: { header: Record<string, string> }) =>
      alg === 'EdDSA'
        ? createPublicKey({ key: await getJwks.getJwk({ domain: issuer, alg: header.alg, kid: header.kid }), format: 'jwk' })
            .export({ type: 'spki', format: 'pem' })
            .toString()
        : getJwks.getPublicKey({ domain: issuer, alg: header.alg, kid: header.kid }),
    algorithms: [alg],
    allowedIss: issuer,
    allowedAud: issuer,
  });
  return ((await verify(token)) as { sub: string }).sub;
};

const LIBRARIES: Record<string, Verify> = {
  jose,
  'jsonwebtoken + jwks-rsa': jsonwebtokenWithJwksRsa,
  'passport-jwt + jwks-rsa': passportJwt,
  'fast-jwt + get-jwks': fastJwtWithGetJwks,
};

/** jsonwebtoken 9 (and passport-jwt, built on it) implements no EdDSA at all: it refuses such tokens as unsupported. */
const NO_EDDSA = new Set(['jsonwebtoken + jwks-rsa', 'passport-jwt + jwks-rsa']);

describe.each<JwtAlg>(['RS256', 'ES256', 'EdDSA'])('interoperability with JWT_ALG=%s', (alg) => {
  let service: RunningService;
  let token: string;
  let userId: string;

  beforeAll(async () => {
    service = await startService({ JWT_ALG: alg });
    const { user, refreshToken } = await insertSession(service.app);
    userId = user.id;
    const res = await fetch(`${service.url}/auth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken }),
    });
    token = ((await res.json()) as { access_token: string }).access_token;
  });

  afterAll(async () => {
    await service?.close();
  });

  const tampered = () => {
    const [h, p, s] = token.split('.');
    const sig = Buffer.from(s, 'base64url');
    sig[sig.length - 1] ^= 1;
    return `${h}.${p}.${sig.toString('base64url')}`;
  };

  it.each(Object.keys(LIBRARIES))('%s accepts the token and refuses it tampered', async (name) => {
    const verify = LIBRARIES[name];
    const ctx = { issuer: service.publicUrl, alg };
    if (alg === 'EdDSA' && NO_EDDSA.has(name)) {
      await expect(verify(token, ctx)).rejects.toThrow(/Unknown key type "ed25519"|invalid algorithm/);
      return;
    }
    await expect(verify(token, ctx)).resolves.toBe(userId);
    await expect(verify(tampered(), ctx)).rejects.toThrow();
  });
});
