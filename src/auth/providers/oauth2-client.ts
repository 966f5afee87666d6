import { boundProviderResponses } from './bounded-response.js';

/**
 * The node-oauth client inside passport-oauth2 and passport-openidconnect (their "protected" `_oauth2`). We adjust it
 * in two places the libraries leave unsafe; see hardenOAuth2Client.
 */
export interface OAuth2Client {
  useAuthorizationHeaderforGET(use: boolean): void;
  get(url: string, accessToken: string, cb: (err: unknown, body?: string, res?: unknown) => void): void;
  getOAuthAccessToken(code: string, params: Record<string, string>, cb: (...args: unknown[]) => void): void;
  /** Every HTTP request goes through here; the token request is a form POST to _getAccessTokenUrl(). */
  _request(
    method: string,
    url: string,
    headers: Record<string, string>,
    body: string,
    accessToken: string | null,
    cb: (...args: unknown[]) => void,
  ): void;
  _getAccessTokenUrl(): string;
}

export function oauth2ClientOf(strategy: object): OAuth2Client {
  return (strategy as { _oauth2: OAuth2Client })._oauth2;
}

type Callback = (...args: any[]) => void; // eslint-disable-line @typescript-eslint/no-explicit-any

/**
 * node-oauth has no timeout: a provider that never answers would hang the sign-in. After `ms` the callback gets an
 * ETIMEDOUT error (reported as provider_unavailable) and a late answer is ignored.
 */
export function withTimeout<T extends Callback>(cb: T, ms: number): T {
  let settled = false;
  const timer = setTimeout(() => {
    settled = true;
    cb({ code: 'ETIMEDOUT', statusCode: 504, data: `the provider did not answer within ${ms} ms` });
  }, ms);
  return ((...args: unknown[]) => {
    if (settled) return;
    settled = true;
    clearTimeout(timer);
    cb(...args);
  }) as T;
}

/** True for a body that parses as JSON but is not an object (`null`, a number, a string, an array). */
function jsonButNotObject(body: string | undefined): boolean {
  let json: unknown;
  try {
    json = JSON.parse(body ?? '');
  } catch {
    return false;
  }
  return json === null || typeof json !== 'object' || Array.isArray(json);
}

/**
 * - Access tokens go to the provider in the Authorization header only, never in a URL (RFC 6750 §2.3, RFC 9700 §4.3.2).
 * - A response body that is not a JSON object becomes an error: passport-openidconnect 0.1.2 calls an undefined `done`
 *   on a non-JSON UserInfo body, and passport-facebook reads `json.id` of a `null` Graph answer; both throw outside any
 *   handler and would take the process down. Every GET here is for a profile, which is an object (OIDC Core §5.3.2).
 *   Likewise the token response: node-oauth reads `access_token` of whatever JSON it parsed, and of `null` that throws
 *   in its response handler; a token response is a JSON object (RFC 6749 §5.1). A body that is not JSON at all is left
 *   to node-oauth, which reads it as a form (what some providers answered before §5.1).
 * - Every call to the provider gives up after `timeoutMs` (PROVIDER_TIMEOUT_MS).
 */
export function hardenOAuth2Client(client: OAuth2Client, timeoutMs: number): void {
  client.useAuthorizationHeaderforGET(true);
  // Answers read to at most a megabyte, requests ended at the timeout (not only given up on): bounded-response.ts.
  boundProviderResponses(client, timeoutMs);
  const request = client._request.bind(client);
  client._request = (method, url, headers, body, accessToken, callback) => {
    const tokenRequest = method === 'POST' && url === client._getAccessTokenUrl();
    try {
      request(method, url, headers, body, accessToken, (err, data, res) => {
        if (tokenRequest && !err && jsonButNotObject(data as string | undefined)) {
          return callback({ statusCode: 502, data: 'the provider answered the token request with JSON that is not an object' });
        }
        callback(err, data, res);
      });
    } catch (e) {
      // http.request throws before sending, e.g. for an access token from the provider that is no valid header value
      // (RFC 6749 §A.12: VSCHARs only); the libraries make that request in the token response's handler, where the
      // throw would end the process. It is the provider's error like a failed request (node-oauth has not called back).
      callback(e);
    }
  };
  const getToken = client.getOAuthAccessToken.bind(client);
  client.getOAuthAccessToken = (code, params, cb) => getToken(code, params, withTimeout(cb, timeoutMs));
  const get = client.get.bind(client);
  client.get = (url, accessToken, callback) => {
    const cb = withTimeout(callback, timeoutMs);
    get(url, accessToken, (err, body, res) => {
      if (!err) {
        let json: unknown;
        try {
          json = JSON.parse(body ?? '');
        } catch {
          return cb({ statusCode: 502, data: 'the provider answered with something that is not JSON' });
        }
        if (json === null || typeof json !== 'object' || Array.isArray(json)) {
          return cb({ statusCode: 502, data: 'the provider answered with JSON that is not an object' });
        }
      }
      cb(err, body, res);
    });
  };
}

/** RFC 6749 §2.3.1: client id and secret are form-urlencoded before they are joined for HTTP Basic. */
const formEncoded = (s: string) => new URLSearchParams([['', s]]).toString().slice(1);

/**
 * client_secret_basic (RFC 6749 §2.3.1) for node-oauth, which only knows client_secret_post: the token request carries
 * the credentials in an `Authorization: Basic` header and no longer in the form (a client uses one method at a time,
 * §2.3; `client_id` in the body is only for clients that do not authenticate, §4.1.3).
 */
export function useClientSecretBasic(client: OAuth2Client, clientId: string, clientSecret: string): void {
  const authorization = `Basic ${Buffer.from(`${formEncoded(clientId)}:${formEncoded(clientSecret)}`).toString('base64')}`;
  const request = client._request.bind(client);
  client._request = (method, url, headers, body, accessToken, cb) => {
    if (method !== 'POST' || url !== client._getAccessTokenUrl()) return request(method, url, headers, body, accessToken, cb);
    const form = new URLSearchParams(body);
    form.delete('client_id');
    form.delete('client_secret');
    request(method, url, { ...headers, Authorization: authorization }, form.toString(), accessToken, cb);
  };
}
