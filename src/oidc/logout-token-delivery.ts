import { AsyncLocalStorage } from 'node:async_hooks';
import type Provider from 'oidc-provider';

/**
 * Back-Channel Logout 1.0 through oidc-provider's own `Client.prototype.backchannelLogout(sub, sid)` (models/client.js):
 * it mints the logout token exactly as §2.4 says (typ `logout+jwt`, iss, aud = client_id, iat, exp 120 s, jti, sub,
 * sid, the `events` member, never `nonce`; signed like the client's ID tokens, i.e. with our active key) and POSTs it
 * form-encoded to the client's registered `backchannel_logout_uri` (§2.5) with `redirect: 'manual'`, taking only
 * 200 or 204. What we change, and why:
 *
 * - Who sends. oidc-provider's `end_session` fans out to the clients of its own session mirror, on the request path,
 *   awaited. Ours is BackchannelLogoutService, from a queue, for every way a session of ours ends; so the method sends
 *   only inside `sending()` and does nothing when end_session calls it, and each token goes out once.
 * - The request. oidc-provider's fetch gets a fixed 2.5 s timeout and a dispatcher that refuses special-use addresses
 *   (loopback, private networks: helpers/fetch_request.js), the right default for URLs a client registers itself.
 *   Ours are registered by an admin (POST /admin/clients), may be loopback or internal, and never come from a request
 *   header; the timeout is BACKCHANNEL_LOGOUT_TIMEOUT_MS. So for our sends, `fetch` drops that dispatcher and sets
 *   the timeout; anything else oidc-provider fetches keeps its protection.
 */
interface Sending {
  timeoutMs: number;
  /** The client's answer, once there is one. */
  status?: number;
}

const sending = new AsyncLocalStorage<Sending>();

/** The `fetch` of oidc-provider's configuration. */
export function providerFetch(url: string | URL | Request, init?: RequestInit): Promise<Response> {
  const ours = sending.getStore();
  if (!ours) return globalThis.fetch(url, init);
  // eslint-disable-next-line @typescript-eslint/no-unused-vars
  const { dispatcher, signal, ...rest } = (init ?? {}) as RequestInit & { dispatcher?: unknown };
  // redirect stays 'manual' (set by oidc-provider): a 3xx is an answer that is not 200/204, a failure, never followed.
  return globalThis.fetch(url, { ...rest, redirect: 'manual', signal: AbortSignal.timeout(ours.timeoutMs) }).then((response) => {
    ours.status = response.status;
    return response;
  });
}

type LogoutSending = (sub: string, sid?: string) => Promise<void>;

/** Makes `client.backchannelLogout` send only from `sendLogoutToken` (see above); once per Provider instance. */
export function sendLogoutTokensFromQueueOnly(provider: Provider): void {
  const proto = provider.Client.prototype as unknown as { backchannelLogout: LogoutSending };
  const send = proto.backchannelLogout;
  proto.backchannelLogout = function (this: unknown, sub, sid) {
    return sending.getStore() ? send.call(this, sub, sid) : Promise.resolve();
  };
}

/** What one attempt came to: `ok` for 200/204; `status` the HTTP status, `timeout`, or the network error's code. */
export interface Attempted {
  ok: boolean;
  status: string;
}

/** One logout token to the client's registered URI; never throws. */
export async function sendLogoutToken(
  client: InstanceType<Provider['Client']>,
  sub: string,
  sid: string | undefined,
  timeoutMs: number,
): Promise<Attempted> {
  const store: Sending = { timeoutMs };
  try {
    await sending.run(store, () => (client as unknown as { backchannelLogout: LogoutSending }).backchannelLogout(sub, sid));
    return { ok: true, status: String(store.status) };
  } catch (e) {
    if (store.status !== undefined) return { ok: false, status: String(store.status) };
    const err = e as Error & { cause?: { code?: string } };
    if (err.name === 'TimeoutError' || err.name === 'AbortError') return { ok: false, status: 'timeout' };
    return { ok: false, status: err.cause?.code ?? err.message };
  }
}
