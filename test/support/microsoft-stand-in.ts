import { createHash, randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { importJWK, SignJWT } from 'jose';
import { generateSigningJwks } from '../../src/demo/oidc-op.js';
import { escapeHtml } from '../../src/common/html.js';
import { listenLocal } from './net.js';
import { tamperIdToken, type IdTokenTamper } from './id-token-tamper.js';

/** Entra ID's tenant of personal Microsoft accounts. */
export const CONSUMERS_TENANT = '9188040d-6c67-4c5b-b112-36a304b66dad';
export const msIssuer = (tid: string) => `https://login.microsoftonline.com/${tid}/v2.0`;

/** A stable GUID for a name (an account's object id, a test tenant's id). */
export const guidOf = (name: string) => {
  const h = createHash('sha256').update(name).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
};

export interface MicrosoftAccount {
  /** The account's home tenant: its tokens carry it as `tid` and, in `iss`, unless `issuerTenant` says otherwise. */
  tid: string;
  oid?: string;
  email?: unknown;
  xms_edov?: unknown;
  name?: string;
  /** A broken or hostile token: `iss` names this tenant while `tid` says another. */
  issuerTenant?: string;
}

interface Pending {
  clientId: string;
  redirectUri: string;
  state?: string;
  nonce?: string;
  challenge: string;
}

/**
 * The Microsoft identity platform's v2.0 endpoints of a multi-tenant app (`/common`) on 127.0.0.1, written here
 * because what matters is what oidc-provider cannot do: one authorization and token endpoint whose ID tokens each
 * carry the issuer of the account's own tenant (`https://login.microsoftonline.com/{tid}/v2.0`) and its `tid`, signed
 * by one key set shared by all tenants, as Entra does. It behaves as Entra does where the service relies on it: the
 * redirect URI must be registered exactly, PKCE S256 is required (as for SPAs; Entra checks it whenever a challenge
 * was sent), the code is single use and bound to client, redirect URI and verifier, the client authenticates with its
 * secret (in the form or with Basic), the nonce comes back in the ID token, `sub` is pairwise (per app) while `oid` is
 * the person's, `email` is unverified unless `xms_edov` is true, and no `iss` is sent in the authorization response.
 * An account is whatever username is typed into its login form; `accounts` gives its tenant and claims.
 */
export async function startMicrosoftStandIn(opts: { clientId: string; clientSecret: string; redirectUri: string; tenant: string }) {
  const net = await listenLocal();
  const jwks = generateSigningJwks();
  const jwk = jwks.keys[0] as { kid: string; n: string; e: string; kty: string };
  const signingKey = await importJWK(jwk as never, 'RS256');
  const accounts = new Map<string, MicrosoftAccount>();
  const pending = new Map<string, Pending>();
  const codes = new Map<string, Pending & { login: string; used: boolean }>();
  const tokenRequests: Record<string, string>[] = [];
  const state: { tamper?: IdTokenTamper } = {};

  const send = (res: ServerResponse, status: number, body: unknown, type = 'application/json') => {
    res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
    res.end(typeof body === 'string' ? body : JSON.stringify(body));
  };
  const redirect = (res: ServerResponse, to: string) => {
    res.writeHead(302, { location: to });
    res.end();
  };

  async function idToken(login: string, p: Pending): Promise<string> {
    const a = accounts.get(login) ?? { tid: opts.tenant };
    const claims: Record<string, unknown> = {
      ver: '2.0',
      tid: a.tid,
      oid: a.oid ?? guidOf(`oid:${login}`),
      // Pairwise: the same person has another `sub` in every app.
      sub: createHash('sha256').update(`${p.clientId}:${login}`).digest('base64url'),
      name: a.name ?? `User ${login}`,
      preferred_username: `${login}@example.test`,
      ...(a.email !== undefined ? { email: a.email } : { email: `${login}@example.test` }),
      ...(a.xms_edov !== undefined ? { xms_edov: a.xms_edov } : {}),
      ...(p.nonce ? { nonce: p.nonce } : {}),
    };
    return new SignJWT(claims)
      .setProtectedHeader({ alg: 'RS256', kid: jwk.kid, typ: 'JWT' })
      .setIssuer(msIssuer(a.issuerTenant ?? a.tid))
      .setAudience(p.clientId)
      .setIssuedAt()
      .setNotBefore('0s')
      .setExpirationTime('1h')
      .sign(signingKey);
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', net.url);
    if (req.method === 'GET' && url.pathname === '/discovery/v2.0/keys') {
      const { kid, n, e, kty } = jwk;
      return send(res, 200, { keys: [{ kty, use: 'sig', kid, n, e }] });
    }
    if (req.method === 'GET' && url.pathname === '/oauth2/v2.0/authorize') {
      const q = url.searchParams;
      if (q.get('client_id') !== opts.clientId || q.get('redirect_uri') !== opts.redirectUri) {
        return send(res, 400, 'AADSTS50011: the redirect URI does not match the ones configured for the application', 'text/plain');
      }
      const back = new URL(opts.redirectUri);
      const fail = (error: string, description: string) => {
        back.searchParams.set('error', error);
        back.searchParams.set('error_description', description);
        if (q.get('state')) back.searchParams.set('state', q.get('state')!);
        redirect(res, back.href);
      };
      if (q.get('response_type') !== 'code') return fail('unsupported_response_type', 'AADSTS70005');
      if (q.get('code_challenge_method') !== 'S256' || !q.get('code_challenge'))
        return fail('invalid_request', 'AADSTS9002325: PKCE required');
      const id = randomBytes(12).toString('base64url');
      pending.set(id, {
        clientId: opts.clientId,
        redirectUri: opts.redirectUri,
        state: q.get('state') ?? undefined,
        nonce: q.get('nonce') ?? undefined,
        challenge: q.get('code_challenge')!,
      });
      return send(res, 200, loginPage(id), 'text/html');
    }
    const step = /^\/login\/([A-Za-z0-9_-]+)\/(login|abort)$/.exec(url.pathname);
    if (req.method === 'POST' && step) {
      const p = pending.get(step[1]);
      if (!p) return send(res, 400, 'unknown request', 'text/plain');
      pending.delete(step[1]);
      const form = new URLSearchParams(await readAll(req));
      const back = new URL(p.redirectUri);
      if (p.state) back.searchParams.set('state', p.state);
      if (step[2] === 'abort') {
        back.searchParams.set('error', 'access_denied');
        back.searchParams.set('error_description', 'AADSTS65004: User declined to consent to access the app.');
        return redirect(res, back.href);
      }
      const code = randomBytes(32).toString('base64url');
      codes.set(code, { ...p, login: form.get('login') ?? 'someone', used: false });
      back.searchParams.set('code', code);
      return redirect(res, back.href);
    }
    if (req.method === 'POST' && url.pathname === '/oauth2/v2.0/token') {
      const form = Object.fromEntries(new URLSearchParams(await readAll(req)));
      tokenRequests.push(form);
      let [id, secret] = [form.client_id, form.client_secret];
      const basic = /^Basic (.+)$/i.exec(req.headers.authorization ?? '');
      if (basic) [id, secret] = Buffer.from(basic[1], 'base64').toString().split(':').map(decodeURIComponent);
      if (id !== opts.clientId || secret !== opts.clientSecret) {
        return send(res, 401, { error: 'invalid_client', error_description: 'AADSTS7000215: Invalid client secret provided.' });
      }
      const c = codes.get(form.code ?? '');
      const verifierOk =
        typeof form.code_verifier === 'string' && createHash('sha256').update(form.code_verifier).digest('base64url') === c?.challenge;
      if (form.grant_type !== 'authorization_code' || !c || c.used || c.redirectUri !== form.redirect_uri || !verifierOk) {
        if (c) c.used = true;
        return send(res, 400, {
          error: 'invalid_grant',
          error_description: 'AADSTS70008: The provided authorization code or refresh token has expired or is invalid.',
        });
      }
      c.used = true;
      const token = await idToken(c.login, c);
      return send(res, 200, {
        token_type: 'Bearer',
        scope: 'openid email profile',
        expires_in: 3600,
        access_token: randomBytes(32).toString('base64url'),
        id_token: state.tamper ? await tamperIdToken(token, jwks.keys[0], state.tamper) : token,
      });
    }
    send(res, 404, { error: 'not_found' });
  }

  net.setHandler((req, res) => {
    handle(req, res).catch(() => send(res, 500, { error: 'server_error' }));
  });
  return {
    url: net.url,
    accounts,
    tokenRequests,
    /** What happens to the next ID tokens (until set back to undefined). */
    set tamper(t: IdTokenTamper | undefined) {
      state.tamper = t;
    },
    env: (): Record<string, string> => ({
      MICROSOFT_CLIENT_ID: opts.clientId,
      MICROSOFT_CLIENT_SECRET: opts.clientSecret,
      MICROSOFT_AUTHORIZATION_URL: `${net.url}/oauth2/v2.0/authorize`,
      MICROSOFT_TOKEN_URL: `${net.url}/oauth2/v2.0/token`,
      MICROSOFT_JWKS_URL: `${net.url}/discovery/v2.0/keys`,
    }),
    close: net.close,
  };
}
export type MicrosoftStandIn = Awaited<ReturnType<typeof startMicrosoftStandIn>>;

function loginPage(id: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Microsoft stand-in: sign in</title></head>
<body><h1>Sign in (Microsoft stand-in)</h1>
<form method="post" action="/login/${escapeHtml(id)}/login"><label>Username <input name="login" required></label><button type="submit">Sign in</button></form>
<form method="post" action="/login/${escapeHtml(id)}/abort"><button type="submit">Cancel</button></form></body></html>`;
}

async function readAll(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > 65536) throw new Error('too large');
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}
