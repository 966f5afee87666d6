import { createPublicKey, generateKeyPairSync, randomBytes } from 'node:crypto';
import type { EventEmitter } from 'node:events';
import type { IncomingMessage } from 'node:http';
import type { KoaContextWithOIDC } from 'oidc-provider';
import { jwtVerify, decodeProtectedHeader } from 'jose';
import { createOp, generateSigningJwks } from '../../src/demo/oidc-op.js';
import { listenLocal } from './net.js';
import { tamperIdToken, type IdTokenTamper } from './id-token-tamper.js';

export const APPLE_ISSUER = 'https://appleid.apple.com';
/** Apple: a client secret's `exp` at most 15,777,000 s (six months) after its `iat`. */
const MAX_SECRET_LIFETIME_S = 15_777_000;

/**
 * Sign in with Apple on 127.0.0.1: oidc-provider (a certified OP) with issuer https://appleid.apple.com, made to behave
 * the way Apple documents it and the way its quirks are seen in the field:
 * - scopes `name email` without `openid`, yet an ID token (the `openid` scope is added before oidc-provider reads
 *   the request); `response_mode=form_post`, the only mode Apple allows with those scopes; PKCE S256 required;
 * - the client secret is an ES256 JWT signed with the team's key: verified here with the public key (alg, kid, iss =
 *   team id, sub = Services ID, aud = https://appleid.apple.com, exp after now and within six months of iat), then
 *   swapped for the client's registered secret before oidc-provider authenticates the client;
 * - the ID token carries `email`, `email_verified` and `is_private_email` as strings ("true") unless an account
 *   says otherwise, and never a name; the name comes once, in the first authorization's `user` form field;
 * - Cancel posts `error=user_cancelled_authorize`; the response carries no `iss` (Apple sends none).
 */
export async function startAppleStandIn(opts: { redirectUri: string; clientId?: string; teamId?: string; keyId?: string }) {
  const net = await listenLocal();
  const clientId = opts.clientId ?? 'com.example.web';
  const teamId = opts.teamId ?? 'TEAM123456';
  const keyId = opts.keyId ?? 'KEY1234567';
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const registeredSecret = randomBytes(24).toString('base64url');
  /** Overrides of an account's ID-token claims and of its `user` field; by default Apple's shapes for `<login>`. */
  const accounts = new Map<string, Record<string, unknown>>();
  const userFields = new Map<string, unknown>();
  /** Accounts that have authorized the app already: Apple sends `user` only the first time. */
  const authorized = new Set<string>();
  const secretsSeen: string[] = [];
  const secretRefusals: string[] = [];
  let jwksFetches = 0;
  const signingJwks = generateSigningJwks();
  const state: { tamper?: IdTokenTamper } = {};

  const provider = createOp({
    issuer: APPLE_ISSUER,
    title: 'Apple stand-in',
    clients: [
      {
        client_id: clientId,
        client_secret: registeredSecret,
        redirect_uris: [opts.redirectUri],
        token_endpoint_auth_method: 'client_secret_post',
      },
    ],
    jwks: signingJwks as never,
    pkceRequired: true,
    idTokenCarriesClaims: true,
    claims: { openid: ['sub'], email: ['email', 'email_verified', 'is_private_email'], name: [] },
    claimsFor: (sub) => accounts.get(sub) ?? { email: `${sub}@example.test`, email_verified: 'true', is_private_email: 'false' },
  });
  provider.proxy = true;

  // oidc-provider emits the response parameters before it writes them, so a listener can shape them (its types omit `out`).
  (provider as unknown as EventEmitter).on('authorization.success', (ctx: KoaContextWithOIDC, out: Record<string, unknown>) => {
    delete out.iss;
    const account = ctx.oidc.session?.accountId;
    if (typeof account !== 'string' || authorized.has(account)) return;
    authorized.add(account);
    const user = userFields.has(account)
      ? userFields.get(account)
      : { name: { firstName: 'First', lastName: account }, email: `${account}@example.test` };
    if (user !== undefined) out.user = typeof user === 'string' ? user : JSON.stringify(user);
  });

  provider.use(async (ctx, next) => {
    if (ctx.path === '/jwks') jwksFetches++;
    if (ctx.method === 'GET' && ctx.path === '/auth') {
      // Apple issues an ID token for `name email` alone; oidc-provider needs `openid` for one.
      const q = new URLSearchParams(ctx.querystring);
      const scopes = (q.get('scope') ?? '').split(' ').filter(Boolean);
      if (!scopes.includes('openid')) q.set('scope', ['openid', ...scopes].join(' '));
      ctx.querystring = q.toString();
    }
    if (ctx.method === 'POST' && ctx.path === '/token') {
      const form = new URLSearchParams(await readAll(ctx.req));
      const why = await checkClientSecret(form.get('client_secret'), form.get('client_id'));
      if (why) {
        secretRefusals.push(why);
        ctx.status = 400;
        ctx.body = { error: 'invalid_client' };
        return;
      }
      secretsSeen.push(form.get('client_secret')!);
      form.set('client_secret', registeredSecret);
      // oidc-provider reads an already-read body from req.body.
      (ctx.req as IncomingMessage & { body?: unknown }).body = Object.fromEntries(form);
    }
    await next();
    const tokenResponse = ctx.body as { id_token?: string } | undefined;
    if (ctx.path === '/token' && ctx.status === 200 && state.tamper && typeof tokenResponse?.id_token === 'string') {
      tokenResponse.id_token = await tamperIdToken(tokenResponse.id_token, signingJwks.keys[0], state.tamper);
    }
    if (typeof ctx.body === 'string' && ctx.body.includes('name="error" value="access_denied"')) {
      ctx.body = ctx.body.replace('name="error" value="access_denied"', 'name="error" value="user_cancelled_authorize"');
    }
  });

  async function checkClientSecret(secret: string | null, formClientId: string | null): Promise<string | undefined> {
    if (!secret) return 'no client_secret';
    if (formClientId !== clientId) return 'another client_id';
    try {
      const header = decodeProtectedHeader(secret);
      if (header.kid !== keyId) return `kid ${String(header.kid)}`;
      const { payload } = await jwtVerify(secret, createPublicKey(publicKey.export({ format: 'pem', type: 'spki' })), {
        algorithms: ['ES256'],
        issuer: teamId,
        subject: clientId,
        audience: APPLE_ISSUER,
        requiredClaims: ['iat', 'exp'],
      });
      if (payload.exp! - payload.iat! > MAX_SECRET_LIFETIME_S) return 'exp more than six months after iat';
      return undefined;
    } catch (e) {
      return `not a valid client secret: ${(e as Error).message}`;
    }
  }

  net.setHandler(provider.callback());
  return {
    url: net.url,
    port: net.port,
    clientId,
    teamId,
    keyId,
    /** The team's key as Apple hands it out: a PKCS#8 PEM (.p8). */
    privateKeyPem: privateKey.export({ format: 'pem', type: 'pkcs8' }) as string,
    accounts,
    userFields,
    authorized,
    /** Every client secret the token endpoint accepted, in order; and why it refused others. */
    secretsSeen,
    secretRefusals,
    /** What happens to the next ID tokens (until set back to undefined). */
    set tamper(t: IdTokenTamper | undefined) {
      state.tamper = t;
    },
    get jwksFetches() {
      return jwksFetches;
    },
    /** The service's variables for this stand-in, reached at `base` (default its 127.0.0.1 URL). */
    env(base = net.url): Record<string, string> {
      return {
        APPLE_CLIENT_ID: clientId,
        APPLE_TEAM_ID: teamId,
        APPLE_KEY_ID: keyId,
        APPLE_PRIVATE_KEY: privateKey.export({ format: 'pem', type: 'pkcs8' }) as string,
        APPLE_AUTHORIZATION_URL: `${base}/auth`,
        APPLE_TOKEN_URL: `${base}/token`,
        APPLE_JWKS_URL: `${base}/jwks`,
      };
    },
    close: net.close,
  };
}
export type AppleStandIn = Awaited<ReturnType<typeof startAppleStandIn>>;

async function readAll(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
