import { createHash, createHmac, randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { listenLocal } from './net.js';

export interface FakeFacebookUser {
  id: string;
  name: string;
  email?: string;
}

/**
 * A small local Facebook: the OAuth dialog (with a consent form, and a "decline email" box), the token endpoint and
 * Graph `/me`, behaving as Facebook's documented manual flow does (PKCE, appsecret_proof, errors as
 * `{ error: { message, type, code } }`). Like the real Graph API for apps that require it, `/me` refuses calls
 * without a valid appsecret_proof; unlike it, it also refuses access tokens in the query string (SECURITY.md F9).
 */
export async function startFacebookFake(opts: { clientId: string; clientSecret: string; version?: string }) {
  const version = opts.version ?? 'v24.0';
  const net = await listenLocal();
  const users = new Map<string, FakeFacebookUser>();
  const pending = new Map<string, { redirectUri: string; state: string; challenge?: string }>();
  const codes = new Map<string, { login: string; redirectUri: string; challenge?: string; declineEmail: boolean }>();
  const tokens = new Map<string, { login: string; declineEmail: boolean }>();
  const log: { path: string; query: Record<string, string>; authorization?: string }[] = [];
  /** When set, Graph `/me` answers this JSON body with HTTP 200 instead of the user (see `meAnswer`). */
  let meAnswer: { body: unknown } | undefined;

  const userFor = (login: string): FakeFacebookUser =>
    users.get(login) ?? {
      id: String(BigInt(`0x${createHash('sha256').update(login).digest('hex').slice(0, 12)}`)),
      name: `FB ${login}`,
      email: `${login}@fb.example.test`,
    };

  const json = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  const oauthError = (res: ServerResponse, message: string, status = 400) =>
    json(res, status, { error: { message, type: 'OAuthException', code: 100 } });
  const redirect = (res: ServerResponse, to: string) => {
    res.writeHead(302, { location: to });
    res.end();
  };

  net.setHandler(async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', net.url);
    const body = req.method === 'POST' ? new URLSearchParams(await read(req)) : new URLSearchParams();
    const params = (k: string) => url.searchParams.get(k) ?? body.get(k) ?? undefined;
    log.push({ path: url.pathname, query: Object.fromEntries(url.searchParams), authorization: req.headers.authorization });

    if (url.pathname === `/${version}/dialog/oauth` && req.method === 'GET') {
      if (params('client_id') !== opts.clientId) return oauthError(res, 'Invalid app ID');
      const id = randomBytes(8).toString('hex');
      pending.set(id, { redirectUri: params('redirect_uri')!, state: params('state') ?? '', challenge: params('code_challenge') });
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end(`<form method="post" action="/dialog/confirm"><input type="hidden" name="request" value="${id}">
<input name="login"><label><input type="checkbox" name="decline_email" value="1"> Don't share my email</label>
<button name="action" value="continue">Continue</button><button name="action" value="cancel">Cancel</button></form>`);
      return;
    }
    if (url.pathname === '/dialog/confirm' && req.method === 'POST') {
      const request = pending.get(body.get('request') ?? '');
      if (!request) return oauthError(res, 'unknown request');
      pending.delete(body.get('request')!);
      const back = new URL(request.redirectUri);
      back.searchParams.set('state', request.state);
      if (body.get('action') === 'cancel') {
        // Facebook's denial: error=access_denied plus its own error_code and error_reason.
        back.searchParams.set('error', 'access_denied');
        back.searchParams.set('error_code', '200');
        back.searchParams.set('error_description', 'Permissions error');
        back.searchParams.set('error_reason', 'user_denied');
        return redirect(res, back.href);
      }
      const code = randomBytes(16).toString('hex');
      codes.set(code, {
        login: body.get('login') ?? 'someone',
        redirectUri: request.redirectUri,
        challenge: request.challenge,
        declineEmail: body.get('decline_email') === '1',
      });
      back.searchParams.set('code', code);
      return redirect(res, back.href);
    }
    if (url.pathname === `/${version}/oauth/access_token`) {
      if (params('client_id') !== opts.clientId || params('client_secret') !== opts.clientSecret)
        return oauthError(res, 'Error validating client secret.');
      const grant = codes.get(params('code') ?? '');
      codes.delete(params('code') ?? '');
      if (!grant) return oauthError(res, 'This authorization code has been used.');
      if (grant.redirectUri !== params('redirect_uri')) return oauthError(res, 'redirect_uri mismatch');
      if (grant.challenge) {
        const verifier = params('code_verifier') ?? '';
        if (createHash('sha256').update(verifier).digest('base64url') !== grant.challenge) return oauthError(res, 'Invalid code verifier');
      }
      const token = randomBytes(24).toString('hex');
      tokens.set(token, { login: grant.login, declineEmail: grant.declineEmail });
      return json(res, 200, { access_token: token, token_type: 'bearer', expires_in: 5183944 });
    }
    if (url.pathname === `/${version}/me`) {
      if (url.searchParams.has('access_token')) return oauthError(res, 'access tokens in the query string are refused here');
      const token = /^Bearer (.+)$/i.exec(req.headers.authorization ?? '')?.[1] ?? '';
      const session = tokens.get(token);
      if (!session) return oauthError(res, 'Invalid OAuth access token.', 401);
      const proof = createHmac('sha256', opts.clientSecret).update(token).digest('hex');
      if (url.searchParams.get('appsecret_proof') !== proof)
        return oauthError(res, 'API calls from the server require an appsecret_proof argument');
      if (meAnswer) return json(res, 200, meAnswer.body);
      const user = userFor(session.login);
      const fields = (url.searchParams.get('fields') ?? 'id,name').split(',');
      const me: Record<string, unknown> = { id: user.id };
      if (fields.includes('name')) me.name = user.name;
      if (fields.includes('email') && user.email && !session.declineEmail) me.email = user.email;
      if (fields.includes('picture')) me.picture = { data: { url: `${net.url}/pictures/${user.id}.jpg`, is_silhouette: false } };
      return json(res, 200, me);
    }
    res.writeHead(404);
    res.end();
  });

  return {
    url: net.url,
    version,
    users,
    log,
    /**
     * Makes `/me` answer this body with HTTP 200 for every caller (a Graph API that changed or broke: no `id`, an odd
     * one, or an error object with status 200); `undefined` restores the normal answer.
     */
    set meAnswer(body: unknown) {
      meAnswer = body === undefined ? undefined : { body };
    },
    env: {
      FACEBOOK_CLIENT_ID: opts.clientId,
      FACEBOOK_CLIENT_SECRET: opts.clientSecret,
      FACEBOOK_GRAPH_VERSION: version,
      FACEBOOK_AUTHORIZATION_URL: `${net.url}/${version}/dialog/oauth`,
      FACEBOOK_TOKEN_URL: `${net.url}/${version}/oauth/access_token`,
      FACEBOOK_PROFILE_URL: `${net.url}/${version}/me`,
    },
    close: net.close,
  };
}
export type FacebookFake = Awaited<ReturnType<typeof startFacebookFake>>;

async function read(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
