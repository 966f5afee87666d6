/**
 * The node-oauth client inside passport-oauth2 and passport-openidconnect (their "protected" `_oauth2`). We adjust it
 * in two places the libraries leave unsafe; see hardenOAuth2Client.
 */
export interface OAuth2Client {
  useAuthorizationHeaderforGET(use: boolean): void;
  get(url: string, accessToken: string, cb: (err: unknown, body?: string, res?: unknown) => void): void;
  getOAuthAccessToken(code: string, params: Record<string, string>, cb: (...args: unknown[]) => void): void;
}

export function oauth2ClientOf(strategy: object): OAuth2Client {
  return (strategy as { _oauth2: OAuth2Client })._oauth2;
}

/**
 * - Access tokens go to the provider in the Authorization header only, never in a URL (RFC 6750 §2.3, RFC 9700 §4.3.2).
 * - A response body that is not JSON becomes an error: passport-openidconnect 0.1.2 calls an undefined `done` on a
 *   non-JSON UserInfo body, which would throw outside any handler and take the process down.
 */
export function hardenOAuth2Client(client: OAuth2Client): void {
  client.useAuthorizationHeaderforGET(true);
  const get = client.get.bind(client);
  client.get = (url, accessToken, cb) =>
    get(url, accessToken, (err, body, res) => {
      if (!err) {
        try {
          JSON.parse(body ?? '');
        } catch {
          return cb({ statusCode: 502, data: 'the provider answered with something that is not JSON' });
        }
      }
      cb(err, body, res);
    });
}
