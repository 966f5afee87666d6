import { createHash, randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { listenLocal } from './net.js';

export interface FakeGithubEmail {
  email: string;
  primary: boolean;
  verified: boolean;
  visibility?: 'public' | 'private' | null;
}

export interface FakeGithubUser {
  id: number;
  login: string;
  name: string | null;
  email?: string | null;
  emails: FakeGithubEmail[];
}

/** A raw answer in place of the real one: any status, any body (a string is sent as it is, anything else as JSON). */
export interface RawAnswer {
  status?: number;
  body: unknown;
  contentType?: string;
  /** Never answer at all (a provider that hangs). */
  hang?: boolean;
}

/**
 * A small local GitHub, behaving as github.com's documented OAuth app flow does (docs.github.com, "Authorizing OAuth
 * apps"): the authorize page (a login form standing in for GitHub's sign-in and consent), the token endpoint at
 * `/login/oauth/access_token` (client id and secret in the form; errors answered with HTTP 200 and `error`, JSON only
 * when asked for with `Accept: application/json`, form-encoded otherwise; PKCE S256 checked when the authorize
 * request carried a challenge, and required here), and the REST API's `/user` and `/user/emails` (which need the
 * `user:email` scope). The API refuses access tokens in the query string (GitHub removed that in 2021) and requests
 * without a User-Agent (as GitHub's does).
 *
 * `enterprise`: GitHub Enterprise Server's layout, everything under `prefix` and the REST API only under
 * `<prefix>/api/v3`.
 */
export async function startGithubFake(opts: { clientId: string; clientSecret: string; enterprise?: boolean; prefix?: string }) {
  const net = await listenLocal();
  const prefix = opts.prefix ?? '';
  const web = `${net.url}${prefix}`;
  const api = opts.enterprise ? `${web}/api/v3` : web;
  const users = new Map<string, FakeGithubUser>();
  const pending = new Map<string, { redirectUri: string; state: string; challenge?: string; method?: string; scope: string }>();
  const codes = new Map<string, { login: string; redirectUri: string; challenge?: string; scope: string }>();
  const tokens = new Map<string, { login: string; scope: string }>();
  const log: {
    method: string;
    path: string;
    query: Record<string, string>;
    form: Record<string, string>;
    headers: IncomingMessage['headers'];
  }[] = [];
  const state: { callbackUrl?: string; tokenAnswer?: RawAnswer; userAnswer?: RawAnswer; emailsAnswer?: RawAnswer } = {};

  const userFor = (login: string): FakeGithubUser =>
    users.get(login) ?? {
      id: Number.parseInt(createHash('sha256').update(login).digest('hex').slice(0, 10), 16),
      login,
      name: `GH ${login}`,
      email: null,
      emails: [{ email: `${login}@users.example.test`, primary: true, verified: true, visibility: 'private' }],
    };

  const send = (res: ServerResponse, status: number, body: unknown, contentType = 'application/json; charset=utf-8') => {
    res.writeHead(status, { 'content-type': contentType });
    res.end(typeof body === 'string' ? body : JSON.stringify(body));
  };
  const raw = (res: ServerResponse, a: RawAnswer) => {
    if (a.hang) return;
    send(res, a.status ?? 200, a.body, a.contentType);
  };
  const redirect = (res: ServerResponse, to: string) => {
    res.writeHead(302, { location: to });
    res.end();
  };
  const apiError = (res: ServerResponse, status: number, message: string) =>
    send(res, status, { message, documentation_url: 'https://docs.github.com/rest', status: String(status) });

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
    const path = url.pathname;
    const q = (k: string) => url.searchParams.get(k) ?? undefined;

    if (path === `${prefix}/login/oauth/authorize` && req.method === 'GET') {
      if (q('client_id') !== opts.clientId) return send(res, 404, 'Not Found', 'text/plain');
      const redirectUri = q('redirect_uri') ?? state.callbackUrl!;
      // GitHub: the redirect_uri must be the registered callback URL (or under it); otherwise an error page.
      if (state.callbackUrl && redirectUri !== state.callbackUrl) {
        return send(res, 400, '<p>The redirect_uri is not associated with this application.</p>', 'text/html');
      }
      const id = randomBytes(8).toString('hex');
      pending.set(id, {
        redirectUri,
        state: q('state') ?? '',
        challenge: q('code_challenge'),
        method: q('code_challenge_method'),
        scope: q('scope') ?? '',
      });
      return send(
        res,
        200,
        `<!doctype html><title>Sign in to GitHub</title><h1>Sign in to GitHub to continue</h1>
<form method="post" action="${prefix}/fake/login?request=${id}"><label>Username <input name="login"></label><button>Sign in</button></form>
<form method="post" action="${prefix}/fake/abort?request=${id}"><button>Cancel</button></form>`,
        'text/html; charset=utf-8',
      );
    }
    if ((path === `${prefix}/fake/login` || path === `${prefix}/fake/abort`) && req.method === 'POST') {
      const request = pending.get(q('request') ?? '');
      if (!request) return send(res, 400, 'unknown request', 'text/plain');
      pending.delete(q('request')!);
      const back = new URL(request.redirectUri);
      if (path.endsWith('/abort')) {
        back.searchParams.set('error', 'access_denied');
        back.searchParams.set('error_description', 'The user has denied your application access.');
        back.searchParams.set('error_uri', 'https://docs.github.com/apps/troubleshooting-authorization-request-errors#access-denied');
        back.searchParams.set('state', request.state);
        return redirect(res, back.href);
      }
      if (request.challenge !== undefined && request.method !== 'S256') return send(res, 400, 'only S256', 'text/plain');
      const code = randomBytes(10).toString('hex');
      codes.set(code, {
        login: body.get('login') || 'someone',
        redirectUri: request.redirectUri,
        challenge: request.challenge,
        scope: request.scope,
      });
      back.searchParams.set('code', code);
      back.searchParams.set('state', request.state);
      return redirect(res, back.href);
    }
    if (path === `${prefix}/login/oauth/access_token` && req.method === 'POST') {
      // GitHub answers JSON only when asked to; otherwise application/x-www-form-urlencoded. Errors have HTTP 200.
      const json = (req.headers.accept ?? '').includes('application/json');
      const answer = (fields: Record<string, string>) =>
        json ? send(res, 200, fields) : send(res, 200, new URLSearchParams(fields).toString(), 'application/x-www-form-urlencoded');
      const error = (error: string, description: string) =>
        answer({ error, error_description: description, error_uri: `https://docs.github.com/apps/troubleshooting#${error}` });
      if (state.tokenAnswer) return raw(res, state.tokenAnswer);
      if (body.get('client_id') !== opts.clientId || body.get('client_secret') !== opts.clientSecret) {
        return error('incorrect_client_credentials', 'The client_id and/or client_secret passed are incorrect.');
      }
      const code = body.get('code') ?? '';
      const grant = codes.get(code);
      codes.delete(code);
      if (!grant) return error('bad_verification_code', 'The code passed is incorrect or expired.');
      if (body.has('redirect_uri') && body.get('redirect_uri') !== grant.redirectUri) {
        return error('redirect_uri_mismatch', 'The redirect_uri MUST match the registered callback URL for this application.');
      }
      // Required here (the service always sends it): a token request without its verifier, or a wrong one, fails.
      const verifier = body.get('code_verifier') ?? '';
      if (!grant.challenge || createHash('sha256').update(verifier).digest('base64url') !== grant.challenge) {
        return error('bad_verification_code', 'The code_verifier does not match the code_challenge.');
      }
      const token = `gho_${randomBytes(18).toString('hex')}`;
      tokens.set(token, { login: grant.login, scope: grant.scope.split(' ').join(',') });
      return answer({ access_token: token, scope: grant.scope.split(' ').join(','), token_type: 'bearer' });
    }
    if (path === `${api.slice(net.url.length)}/user` || path === `${api.slice(net.url.length)}/user/emails`) {
      if (!req.headers['user-agent']) {
        return send(
          res,
          403,
          'Request forbidden by administrative rules. Please make sure your request has a User-Agent header.',
          'text/plain',
        );
      }
      if (url.searchParams.has('access_token')) return apiError(res, 400, 'Must specify access token via Authorization header.');
      const token = /^(?:Bearer|token) (.+)$/i.exec(req.headers.authorization ?? '')?.[1] ?? '';
      const session = tokens.get(token);
      if (!session) return apiError(res, 401, 'Bad credentials');
      const user = userFor(session.login);
      if (path.endsWith('/user')) {
        if (state.userAnswer) return raw(res, state.userAnswer);
        return send(res, 200, {
          login: user.login,
          id: user.id,
          node_id: `U_${user.id}`,
          avatar_url: `${web}/avatars/${user.id}`,
          html_url: `${web}/${user.login}`,
          type: 'User',
          name: user.name,
          email: user.email ?? null,
        });
      }
      if (state.emailsAnswer) return raw(res, state.emailsAnswer);
      if (!session.scope.split(',').includes('user:email') && !session.scope.split(',').includes('user')) {
        return apiError(res, 404, 'Not Found');
      }
      return send(res, 200, user.emails);
    }
    send(res, 404, 'Not Found', 'text/plain');
  });

  return {
    url: net.url,
    web,
    api,
    users,
    log,
    /** The OAuth app's registered callback URL (GitHub allows one); a different redirect_uri gets an error page. */
    set callbackUrl(u: string) {
      state.callbackUrl = u;
    },
    /** Answers the token endpoint with this instead (undefined: the real answer). */
    set tokenAnswer(a: RawAnswer | undefined) {
      state.tokenAnswer = a;
    },
    set userAnswer(a: RawAnswer | undefined) {
      state.userAnswer = a;
    },
    set emailsAnswer(a: RawAnswer | undefined) {
      state.emailsAnswer = a;
    },
    /** The service's variables: Enterprise gets GITHUB_URL only (the API is found under it), github.com-style both. */
    env: {
      GITHUB_CLIENT_ID: opts.clientId,
      GITHUB_CLIENT_SECRET: opts.clientSecret,
      GITHUB_URL: web,
      ...(opts.enterprise ? {} : { GITHUB_API_URL: api }),
    } as Record<string, string>,
    close: net.close,
  };
}
export type GithubFake = Awaited<ReturnType<typeof startGithubFake>>;

async function read(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
