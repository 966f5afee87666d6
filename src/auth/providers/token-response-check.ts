import type { OAuth2Client } from './oauth2-client.js';
import { tokenResponseProblem } from './plain-oauth2.strategy.js';

/**
 * Token responses checked before passport-oauth2 reads them (tokenResponseProblem): an `error` in a 200 answer, no
 * access token or one that is no string, a token type other than Bearer (RFC 6749 §5.1, §5.2, §7.1) are the provider's
 * error. passport-oauth2 reports a missing access token with a plain Error, which ended as server_error: our fault in
 * the audit and the logs, for an answer the provider (or anyone on the path to it) chose.
 */
export function checkingTokenResponses(client: OAuth2Client): void {
  const getToken = client.getOAuthAccessToken.bind(client);
  client.getOAuthAccessToken = (code, params, cb) =>
    getToken(code, params, (err: unknown, accessToken: unknown, refreshToken: unknown, results: unknown) => {
      if (err) return cb(err);
      const problem = tokenResponseProblem(accessToken, results);
      if (problem) return cb(problem);
      cb(null, accessToken, refreshToken, results);
    });
}
