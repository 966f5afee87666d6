import { generateKeyPairSync, randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { SignJWT, decodeJwt, decodeProtectedHeader, importJWK, type JWK } from 'jose';
import { listenLocal } from './net.js';

export type Tamper =
  | 'alg-none'
  | 'other-key'
  | 'wrong-nonce'
  | 'wrong-audience'
  | 'extra-audience'
  | 'wrong-issuer'
  | 'expired'
  | 'stale-iat'
  | 'userinfo-other-sub'
  | 'userinfo-not-json'
  | 'token-hangs'
  | 'sub-control-char'
  | 'sub-too-long'
  | 'unknown-kid'
  | 'token-null'
  | 'id-token-not-string'
  | 'id-token-claims-null'
  | 'access-token-control-char';

/** The subject a `sub-*` tamper puts into both the ID token and UserInfo (so they still agree). */
const FORGED_SUBJECTS: Partial<Record<Tamper, string>> = {
  'sub-control-char': 'victim\u0000admin',
  'sub-too-long': 's'.repeat(256),
};

/**
 * A transparent proxy in front of a stand-in OP (whose issuer is the proxy's URL). With `tamper` set it rewrites the
 * ID token in token responses, or the UserInfo answer, the way an attacker on that path (or a malicious OP) would.
 * Tokens it re-signs use the OP's own key, so only the claim checks stand between them and a sign-in.
 */
export async function startTamperingProxy() {
  const net = await listenLocal();
  const state: {
    target?: string;
    opKey?: JWK;
    tamper?: Tamper;
    /** Any rewrite of the ID token in token responses (given the OP's private JWK); runs instead of `tamper`. */
    rewrite?: (idToken: string, opKey: JWK) => Promise<string> | string;
  } = {};
  /** Who waits for the next token request that `token-hangs` holds open (so a test acts while it is in flight). */
  const hangWaiters: (() => void)[] = [];
  const attackerKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;

  async function forge(idToken: string, tamper: Tamper): Promise<string> {
    const header = decodeProtectedHeader(idToken);
    const claims = decodeJwt(idToken);
    const now = Math.floor(Date.now() / 1000);
    if (tamper === 'alg-none') {
      const enc = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
      return `${enc({ alg: 'none', typ: 'JWT' })}.${enc(claims)}.`;
    }
    const changed = { ...claims };
    if (tamper === 'wrong-nonce') changed.nonce = 'not-the-nonce-we-sent';
    if (tamper === 'wrong-audience') changed.aud = 'some-other-client';
    if (tamper === 'extra-audience') Object.assign(changed, { aud: [claims.aud as string, 'untrusted-client'], azp: claims.aud });
    if (tamper === 'wrong-issuer') changed.iss = 'https://evil.example';
    if (tamper === 'expired') Object.assign(changed, { iat: now - 7200, exp: now - 3600 });
    // Not expired, but issued long ago: OIDC Core §3.1.3.7 item 10 (iat too far from now).
    if (tamper === 'stale-iat') Object.assign(changed, { iat: now - 7200, exp: now + 3600 });
    if (FORGED_SUBJECTS[tamper] !== undefined) changed.sub = FORGED_SUBJECTS[tamper];
    const key = tamper === 'other-key' ? attackerKey : await importJWK(state.opKey!, 'RS256');
    // A kid the OP's JWKS does not have (signed with the OP's key all the same): a rotation, or someone making us refetch.
    const kid = tamper === 'unknown-kid' ? randomBytes(8).toString('hex') : header.kid;
    return new SignJWT(changed).setProtectedHeader({ alg: 'RS256', kid, typ: header.typ }).sign(key);
  }

  net.setHandler(async (req: IncomingMessage, res: ServerResponse) => {
    // A provider that never answers its token endpoint: the request is left open.
    if (state.tamper === 'token-hangs' && req.url?.startsWith('/token')) {
      for (const wake of hangWaiters.splice(0)) wake();
      return;
    }
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const headers = new Headers();
    for (const [k, v] of Object.entries(req.headers))
      if (typeof v === 'string' && k !== 'content-length' && k !== 'host') headers.set(k, v);
    // fetch will not forward Host; the OP (koa with `proxy` on) builds its URLs from this instead.
    headers.set('x-forwarded-host', new URL(net.url).host);
    const upstream = await fetch(`${state.target}${req.url}`, {
      method: req.method,
      headers,
      body: chunks.length ? Buffer.concat(chunks) : undefined,
      redirect: 'manual',
    });
    let body = Buffer.from(await upstream.arrayBuffer());
    const path = new URL(req.url ?? '/', net.url).pathname;
    if (state.rewrite && upstream.ok && path === '/token') {
      const json = JSON.parse(body.toString());
      json.id_token = await state.rewrite(json.id_token, state.opKey!);
      body = Buffer.from(JSON.stringify(json));
    } else if (state.tamper && upstream.ok) {
      if (path === '/token' && state.tamper === 'token-null') {
        // Valid JSON, but not the object RFC 6749 §5.1 requires.
        body = Buffer.from('null');
      } else if (path === '/token' && state.tamper === 'access-token-control-char') {
        // Not a valid header value: Node refuses to send it in UserInfo's Authorization header.
        body = Buffer.from(JSON.stringify({ ...JSON.parse(body.toString()), access_token: 'a\nb' }));
      } else if (path === '/token' && state.tamper.startsWith('id-token-')) {
        const json = JSON.parse(body.toString());
        const [header, , signature] = (json.id_token as string).split('.');
        json.id_token =
          state.tamper === 'id-token-not-string' ? 123 : `${header}.${Buffer.from('null').toString('base64url')}.${signature}`;
        body = Buffer.from(JSON.stringify(json));
      } else if (path === '/token' && !state.tamper.startsWith('userinfo')) {
        const json = JSON.parse(body.toString());
        json.id_token = await forge(json.id_token, state.tamper);
        body = Buffer.from(JSON.stringify(json));
      } else if (path === '/me' && state.tamper === 'userinfo-other-sub') {
        body = Buffer.from(JSON.stringify({ ...JSON.parse(body.toString()), sub: 'admin' }));
      } else if (path === '/me' && FORGED_SUBJECTS[state.tamper] !== undefined) {
        body = Buffer.from(JSON.stringify({ ...JSON.parse(body.toString()), sub: FORGED_SUBJECTS[state.tamper] }));
      } else if (path === '/me' && state.tamper === 'userinfo-not-json') {
        body = Buffer.from('<html>oops</html>');
      }
    }
    const out: Record<string, string> = {};
    upstream.headers.forEach((v, k) => {
      if (!['content-length', 'content-encoding', 'transfer-encoding', 'set-cookie'].includes(k)) out[k] = v;
    });
    const cookies = upstream.headers.getSetCookie();
    res.writeHead(upstream.status, { ...out, ...(cookies.length ? { 'set-cookie': cookies } : {}), 'content-length': String(body.length) });
    res.end(body);
  });

  return {
    url: net.url,
    connect(target: string, opKey: JWK) {
      state.target = target;
      state.opKey = opKey;
    },
    set tamper(t: Tamper | undefined) {
      state.tamper = t;
    },
    set rewrite(f: ((idToken: string, opKey: JWK) => Promise<string> | string) | undefined) {
      state.rewrite = f;
    },
    /** Resolves when a token request arrives and `token-hangs` holds it open. */
    nextHungTokenRequest: () => new Promise<void>((resolve) => hangWaiters.push(resolve)),
    close: net.close,
  };
}
