import type { ClientRequest, IncomingMessage, RequestOptions } from 'node:http';

/**
 * The most a provider's answer may be: a token response (RFC 6749 §5.1), a UserInfo or profile object (OIDC Core
 * §5.3.2, GitHub's `/user`, `/user/emails`) is a few kilobytes; a megabyte leaves room for any honest one.
 */
export const MAX_PROVIDER_RESPONSE_BYTES = 1024 * 1024;

type Callback = (err: unknown, body?: string, res?: IncomingMessage) => void;
type HttpLibrary = { request(options: RequestOptions): ClientRequest };

/** node-oauth's own per-request hook: every token and profile request of the libraries goes through it. */
interface ExecutesRequests {
  _executeRequest(httpLibrary: HttpLibrary, options: RequestOptions, body: unknown, cb: Callback): void;
}

/**
 * node-oauth reads a provider's answer with `result += chunk`, without a limit and without an end: the timeout of
 * hardenOAuth2Client only stops waiting, the request goes on. A hostile or broken provider (a generic OAUTH_PROVIDERS
 * entry, a GitHub Enterprise server, anything in the path to them) that streams without end made the service keep the
 * connection and buffer everything (memory without bound; past V8's longest string, a RangeError thrown in a socket
 * handler, which ends the process). Here the answer is read into at most `maxBytes` and the request destroyed when it
 * goes past that or past `timeoutMs` (SECURITY.md F10).
 * The bytes are decoded once, at the end: node-oauth decoded each chunk alone, turning a UTF-8 character split across
 * two chunks into U+FFFD.
 */
export function boundProviderResponses(client: object, timeoutMs: number, maxBytes = MAX_PROVIDER_RESPONSE_BYTES): void {
  const c = client as ExecutesRequests;
  c._executeRequest = (httpLibrary, options, body, callback) => {
    let done = false;
    const finish = (err: unknown, text?: string, res?: IncomingMessage) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      callback(err, text, res);
    };
    const request = httpLibrary.request(options);
    const timer = setTimeout(() => {
      finish({ code: 'ETIMEDOUT', statusCode: 504, data: `the provider did not answer within ${timeoutMs} ms` });
      request.destroy();
    }, timeoutMs);
    request.on('response', (response: IncomingMessage) => {
      const chunks: Buffer[] = [];
      let size = 0;
      response.on('data', (chunk: Buffer) => {
        if (done) return;
        size += chunk.length;
        if (size > maxBytes) {
          finish({ statusCode: 502, data: `the provider answered with more than ${maxBytes} bytes` });
          request.destroy();
          return;
        }
        chunks.push(chunk);
      });
      response.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        const status = response.statusCode ?? 0;
        // As node-oauth: 2xx (and a redirect, which it passes on) is an answer, anything else the provider's error.
        if ((status >= 200 && status <= 299) || status === 301 || status === 302) finish(null, text, response);
        else finish({ statusCode: status, data: text });
      });
      response.on('error', (e) => finish(e));
      // Cut off before its end: no answer (an 'end' came first when it was complete).
      response.on('close', () => {
        if (!response.complete) finish({ code: 'ECONNRESET', statusCode: 502, data: 'the provider closed the connection mid-answer' });
      });
    });
    // node-oauth: the provider may reset the connection after its answer; the first outcome stands.
    request.on('error', (e) => finish(e));
    if ((options.method === 'POST' || options.method === 'PUT') && body) request.write(body as string);
    request.end();
  };
}
