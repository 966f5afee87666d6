import { createOp, generateSigningJwks, type OpClient } from '../../src/demo/oidc-op.js';
import { listenLocal } from './net.js';

export interface StandInOptions {
  clients: OpClient[];
  /** Defaults to the server's own URL. Google's stand-in says https://accounts.google.com. */
  issuer?: string;
  pkceRequired?: boolean;
  userinfoPath?: string;
  idTokenCarriesClaims?: boolean;
}

/**
 * A real OpenID Provider (oidc-provider) on 127.0.0.1 standing in for Google or a company OP. Accounts are whatever
 * username the test types into its login form; `accounts` overrides their claims.
 */
export async function startOidcStandIn(options: StandInOptions) {
  const net = await listenLocal();
  const accounts = new Map<string, Record<string, unknown>>();
  const jwks = generateSigningJwks();
  const issuer = options.issuer ?? net.url;
  const provider = createOp({
    issuer,
    title: `Stand-in OP ${issuer}`,
    clients: options.clients,
    jwks,
    pkceRequired: options.pkceRequired,
    userinfoPath: options.userinfoPath,
    idTokenCarriesClaims: options.idTokenCarriesClaims,
    claimsFor: (sub) => accounts.get(sub) ?? { email: `${sub}@example.test`, email_verified: true, name: `User ${sub}` },
  });
  // Behind the tampering proxy, URLs in discovery must name the proxy: trust its X-Forwarded-Host.
  provider.proxy = true;
  net.setHandler(provider.callback());
  return {
    url: net.url,
    issuer,
    provider,
    /** The OP's private signing key, so a tampering proxy can forge validly signed tokens with wrong claims. */
    privateJwk: jwks.keys[0],
    accounts,
    close: net.close,
  };
}
export type OidcStandIn = Awaited<ReturnType<typeof startOidcStandIn>>;
