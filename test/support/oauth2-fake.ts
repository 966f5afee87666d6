import { createHash, randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RawAnswer } from './github-fake.js';
import { listenLocal } from './net.js';

export interface FakeOAuth2User {
  /** A number, as GitLab's ids are (Discord's are strings). */
  uid: number | string;
  mail?: string;
  mailConfirmed?: boolean;
  displayName?: string;
}

/**
 * A plain OAuth 2.0 provider (RFC 6749, no OpenID Connect) whose profile has its own shape, nested:
 * `{ data: { uid, mail, mail_confirmed, display_name, avatar: { href } } }` at `/api/me`, so the service only signs in
 * with it through the OAUTH_<ID>_*_FIELD mapping. The client authenticates as `auth` says (the other way is refused,
 * as strict servers do), PKCE S256 is required when `pkce`, and the API refuses tokens in a query string.
 */
export async function startOAuth2Fake(opts: {
  id: string;
  clientId: string;
  clientSecret: string;
  auth: 'client_secret_basic' | 'client_secret_post';
  pkce: boolean;
}) {
  const net = await listenLocal();
  const users = new Map<string, FakeOAuth2User>();
  const pending = new Map<string, { redirectUri: string; state: string; challenge?: string }>();
  const codes = new Map<string, { login: string; redirectUri: string; challenge?: string }>();
  const tokens = new Map<string, string>();
  const log: {
    method: string;
    path: string;
    query: Record<string, string>;
    form: Record<string, string>;
    headers: IncomingMessage['headers'];
  }[] = [];
  const state: { tokenAnswer?: RawAnswer; meAnswer?: RawAnswer } = {};

  const userFor = (login: string): FakeOAuth2User =>
    users.get(login) ?? {
      uid: Number.parseInt(createHash('sha256').update(`${opts.id}:${login}`).digest('hex').slice(0, 10), 16),
      mail: `${login}@${opts.id}.example.test`,
      mailConfirmed: true,
      displayName: `${opts.id} ${login}`,
    };

  const send = (res: ServerResponse, status: number, body: unknown, contentType = 'application/json') => {
    res.writeHead(status, { 'content-type': contentType, 'cache-control': 'no-store' });
    res.end(typeof body === 'string' ? body : JSON.stringify(body));
  };
  const oauthError = (res: ServerResponse, status: number, error: string, description: string) =>
    send(res, status, { error, error_description: description });
  const redirect = (res: ServerResponse, to: string) => {
    res.writeHead(302, { location: to });
    res.end();
  };

  net.setHandler(async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', net.url);
    const body = req.method === 'POST' ? new URLSearchParams(await read(req)) : new URLSearchParams();
    log.push({
      method: req.method ?? 'GET',
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      form: Object.fromEntries(body),
      headers: req.headers,
    });
    const q = (k: string) => url.searchParams.get(k) ?? undefined;

    if (url.pathname === '/oauth/authorize' && req.method === 'GET') {
      if (q('client_id') !== opts.clientId || q('response_type') !== 'code') return send(res, 400, 'bad request', 'text/plain');
      if (opts.pkce && (q('code_challenge_method') !== 'S256' || !q('code_challenge'))) {
        const back = new URL(q('redirect_uri')!);
        back.searchParams.set('error', 'invalid_request');
        back.searchParams.set('error_description', 'PKCE S256 is required');
        back.searchParams.set('state', q('state') ?? '');
        return redirect(res, back.href);
      }
      const id = randomBytes(8).toString('hex');
      pending.set(id, { redirectUri: q('redirect_uri')!, state: q('state') ?? '', challenge: q('code_challenge') });
      return send(
        res,
        200,
        `<!doctype html><title>${opts.id}</title><form method="post" action="/fake/login?request=${id}"><input name="login"><button>Continue</button></form>
<form method="post" action="/fake/abort?request=${id}"><button>Cancel</button></form>`,
        'text/html',
      );
    }
    if ((url.pathname === '/fake/login' || url.pathname === '/fake/abort') && req.method === 'POST') {
      const request = pending.get(q('request') ?? '');
      if (!request) return send(res, 400, 'unknown request', 'text/plain');
      pending.delete(q('request')!);
      const back = new URL(request.redirectUri);
      back.searchParams.set('state', request.state);
      if (url.pathname.endsWith('/abort')) {
        back.searchParams.set('error', 'access_denied');
        back.searchParams.set('error_description', 'The resource owner denied the request.');
        return redirect(res, back.href);
      }
      const code = randomBytes(12).toString('base64url');
      codes.set(code, { login: body.get('login') || 'someone', redirectUri: request.redirectUri, challenge: request.challenge });
      back.searchParams.set('code', code);
      return redirect(res, back.href);
    }
    if (url.pathname === '/oauth/token' && req.method === 'POST') {
      if (state.tokenAnswer) {
        if (state.tokenAnswer.hang) return;
        return send(res, state.tokenAnswer.status ?? 200, state.tokenAnswer.body, state.tokenAnswer.contentType);
      }
      const basic = /^Basic (.+)$/i.exec(req.headers.authorization ?? '')?.[1];
      let clientId: string | undefined;
      let secret: string | undefined;
      if (opts.auth === 'client_secret_basic') {
        if (body.has('client_secret')) return oauthError(res, 401, 'invalid_client', 'client_secret_basic only');
        const [id, s] = Buffer.from(basic ?? '', 'base64')
          .toString()
          .split(':')
          .map(decodeURIComponent);
        [clientId, secret] = [id, s];
      } else {
        if (basic) return oauthError(res, 401, 'invalid_client', 'client_secret_post only');
        [clientId, secret] = [body.get('client_id') ?? undefined, body.get('client_secret') ?? undefined];
      }
      if (clientId !== opts.clientId || secret !== opts.clientSecret)
        return oauthError(res, 401, 'invalid_client', 'bad client credentials');
      if (body.get('grant_type') !== 'authorization_code') return oauthError(res, 400, 'unsupported_grant_type', 'only codes');
      const grant = codes.get(body.get('code') ?? '');
      codes.delete(body.get('code') ?? '');
      if (!grant || grant.redirectUri !== body.get('redirect_uri')) return oauthError(res, 400, 'invalid_grant', 'bad code');
      if (
        grant.challenge &&
        createHash('sha256')
          .update(body.get('code_verifier') ?? '')
          .digest('base64url') !== grant.challenge
      ) {
        return oauthError(res, 400, 'invalid_grant', 'PKCE verification failed');
      }
      const token = randomBytes(24).toString('base64url');
      tokens.set(token, grant.login);
      return send(res, 200, {
        access_token: token,
        token_type: 'Bearer',
        expires_in: 3600,
        refresh_token: randomBytes(16).toString('hex'),
      });
    }
    if (url.pathname === '/api/me') {
      if (url.searchParams.has('access_token')) return oauthError(res, 400, 'invalid_request', 'tokens in the query string are refused');
      const login = tokens.get(/^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1] ?? '');
      if (login === undefined) return oauthError(res, 401, 'invalid_token', 'unknown token');
      if (state.meAnswer) {
        if (state.meAnswer.hang) return;
        return send(res, state.meAnswer.status ?? 200, state.meAnswer.body, state.meAnswer.contentType);
      }
      const u = userFor(login);
      return send(res, 200, {
        data: {
          uid: u.uid,
          mail: u.mail,
          mail_confirmed: u.mailConfirmed,
          display_name: u.displayName,
          avatar: { href: `${net.url}/avatars/${u.uid}.png` },
        },
      });
    }
    send(res, 404, 'not found', 'text/plain');
  });

  const prefix = `OAUTH_${opts.id.toUpperCase()}_`;
  return {
    url: net.url,
    users,
    log,
    set tokenAnswer(a: RawAnswer | undefined) {
      state.tokenAnswer = a;
    },
    set meAnswer(a: RawAnswer | undefined) {
      state.meAnswer = a;
    },
    /** The service's variables for this provider: everything it knows of it. */
    env: {
      [`${prefix}CLIENT_ID`]: opts.clientId,
      [`${prefix}CLIENT_SECRET`]: opts.clientSecret,
      [`${prefix}AUTHORIZATION_URL`]: `${net.url}/oauth/authorize`,
      [`${prefix}TOKEN_URL`]: `${net.url}/oauth/token`,
      [`${prefix}USERINFO_URL`]: `${net.url}/api/me`,
      [`${prefix}SCOPES`]: 'identify email',
      [`${prefix}TOKEN_AUTH_METHOD`]: opts.auth,
      [`${prefix}PKCE`]: String(opts.pkce),
      [`${prefix}SUBJECT_FIELD`]: 'data.uid',
      [`${prefix}EMAIL_FIELD`]: 'data.mail',
      [`${prefix}NAME_FIELD`]: 'data.display_name',
      [`${prefix}PICTURE_FIELD`]: 'data.avatar.href',
    } as Record<string, string>,
    close: net.close,
  };
}
export type OAuth2Fake = Awaited<ReturnType<typeof startOAuth2Fake>>;

async function read(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
