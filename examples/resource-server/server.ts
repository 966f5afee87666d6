/**
 * A tiny API that trusts the login service's access tokens: it verifies them offline through the service's JWKS
 * with jose, pinning issuer, audience, algorithm and the RFC 9068 `typ`. No code of the service is imported.
 */
import { createServer, type Server } from 'node:http';
import { createRemoteJWKSet, jwtVerify, type JWTPayload } from 'jose';

export interface ResourceServerOptions {
  /** The login service's PUBLIC_URL: its `iss`, and where its JWKS lives. */
  issuer: string;
  /** The service's JWT_AUDIENCE (defaults to its PUBLIC_URL). */
  audience: string;
  /** The algorithm the service signs with (JWT_ALG). */
  algorithms?: string[];
  /** How long fetched keys are trusted before the JWKS is read again (a new `kid` triggers a read at once). */
  jwksCacheMaxAgeMs?: number;
}

export function createResourceServer(options: ResourceServerOptions): Server {
  const jwks = createRemoteJWKSet(new URL(`${options.issuer}/.well-known/jwks.json`), {
    cacheMaxAge: options.jwksCacheMaxAgeMs ?? 10 * 60_000,
    cooldownDuration: 5_000,
  });

  async function authenticate(header: string | undefined): Promise<JWTPayload> {
    const token = /^Bearer (\S+)$/i.exec(header ?? '')?.[1];
    if (!token) throw new Error('missing bearer token');
    const { payload } = await jwtVerify(token, jwks, {
      issuer: options.issuer,
      audience: options.audience,
      algorithms: options.algorithms ?? ['RS256'],
      typ: 'at+jwt',
      clockTolerance: 30,
    });
    return payload;
  }

  return createServer((req, res) => {
    const send = (status: number, body: unknown) => {
      res.writeHead(status, {
        'content-type': 'application/json',
        ...(status === 401 ? { 'www-authenticate': 'Bearer error="invalid_token"' } : {}),
      });
      res.end(JSON.stringify(body));
    };
    if (req.url !== '/hello') return send(404, { error: 'not_found' });
    authenticate(req.headers.authorization).then(
      (claims) => {
        const roles = Array.isArray(claims.roles) ? claims.roles : [];
        send(200, { hello: claims.sub, roles, session: claims.sid });
      },
      () => send(401, { error: 'invalid_token', error_description: 'a valid access token from the login service is required' }),
    );
  });
}

// `node examples/resource-server/server.js` after a build, or with a TypeScript loader:
// ISSUER=http://localhost:3000 AUDIENCE=http://localhost:3000 PORT=4000
if (process.argv[1]?.endsWith('resource-server/server.js')) {
  const issuer = process.env.ISSUER ?? 'http://localhost:3000';
  createResourceServer({ issuer, audience: process.env.AUDIENCE ?? issuer }).listen(Number(process.env.PORT ?? 4000), () =>
    console.log(`resource server on :${process.env.PORT ?? 4000}, trusting ${issuer}`),
  );
}
