import { MAX_PROVIDER_RESPONSE_BYTES } from './bounded-response.js';

/** An answer cut off at the limit: a caller can tell it from a network failure (one is worth a retry, this is not). */
export class ResponseTooLargeError extends Error {
  override name = 'ResponseTooLargeError';
  constructor(readonly maxBytes: number) {
    super(`the provider answered with more than ${maxBytes} bytes`);
  }
}

/**
 * fetch for jose's remote JWKS (its `customFetch` option): the answer read to at most `maxBytes`, then the request
 * aborted. jose reads it with `response.json()`, without a limit, for as long as PROVIDER_TIMEOUT_MS lets it: a
 * provider's JWKS endpoint (or anyone on the path to it) streaming at full speed filled memory with hundreds of
 * megabytes per sign-in. A JWKS is a few keys (RFC 7517 §5), a few kilobytes (SECURITY.md F10). The OIDC discovery
 * document (oidc/discovery.ts) is read through it too.
 */
export function boundedFetch(maxBytes = MAX_PROVIDER_RESPONSE_BYTES) {
  return async (url: string, init: RequestInit): Promise<Response> => {
    const response = await fetch(url, init);
    if (!response.body) return response;
    const reader = response.body.getReader();
    const chunks: Uint8Array[] = [];
    let size = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > maxBytes) {
        await reader.cancel();
        throw new ResponseTooLargeError(maxBytes);
      }
      chunks.push(value);
    }
    return new Response(Buffer.concat(chunks), { status: response.status, statusText: response.statusText, headers: response.headers });
  };
}
