import { createOp, generateSigningJwks, type OpClient, type OpOptions } from '../../src/demo/oidc-op.js';
import { listenLocal } from './net.js';

export interface StandInOptions {
  clients: OpClient[];
  /** Defaults to the server's own URL. Google's stand-in says https://accounts.google.com. */
  issuer?: string;
  pkceRequired?: boolean;
  userinfoPath?: string;
  idTokenCarriesClaims?: boolean;
  /** Token endpoint authentication methods the OP accepts (and lists in discovery, unless `advertisedAuthMethods`). */
  clientAuthMethods?: OpOptions['clientAuthMethods'];
  /**
   * What discovery's `token_endpoint_auth_methods_supported` says instead (`null`: the field is left out). oidc-provider
   * takes Basic and form credentials alike from any client it accepts them from; this is how a test sees which one the
   * service chose.
   */
  advertisedAuthMethods?: string[] | null;
  idTokenSigningAlgValues?: OpOptions['idTokenSigningAlgValues'];
}

/**
 * A real OpenID Provider (oidc-provider) on 127.0.0.1 standing in for Google or a company OP. Accounts are whatever
 * username the test types into its login form; `accounts` overrides their claims.
 */
export async function startOidcStandIn(options: StandInOptions) {
  const net = await listenLocal();
  const accounts = new Map<string, Record<string, unknown>>();
  let jwks = generateSigningJwks();
  const issuer = options.issuer ?? net.url;
  let jwksFetches = 0;

  const build = () => {
    const provider = createOp({
      issuer,
      title: `Stand-in OP ${issuer}`,
      clients: options.clients,
      jwks,
      pkceRequired: options.pkceRequired,
      userinfoPath: options.userinfoPath,
      idTokenCarriesClaims: options.idTokenCarriesClaims,
      clientAuthMethods: options.clientAuthMethods,
      idTokenSigningAlgValues: options.idTokenSigningAlgValues,
      claimsFor: (sub) => accounts.get(sub) ?? { email: `${sub}@example.test`, email_verified: true, name: `User ${sub}` },
    });
    // Behind the tampering proxy, URLs in discovery must name the proxy: trust its X-Forwarded-Host.
    provider.proxy = true;
    provider.use(async (ctx, next) => {
      if (ctx.path.endsWith('/jwks')) jwksFetches++;
      await next();
    });
    if (options.clientAuthMethods && !options.clientAuthMethods.includes('client_secret_basic')) {
      // oidc-provider takes HTTP Basic from every client with a secret, whatever its clientAuthMethods; it only gates the
      // form body. A provider that accepts the form body only refuses Basic, as this one now does.
      provider.use(async (ctx, next) => {
        if (ctx.method === 'POST' && ctx.path.endsWith('/token') && /^basic /i.test(ctx.headers.authorization ?? '')) {
          ctx.status = 401;
          ctx.body = { error: 'invalid_client', error_description: 'client_secret_basic is not accepted here' };
          return;
        }
        await next();
      });
    }
    if (options.advertisedAuthMethods !== undefined) {
      const advertised = options.advertisedAuthMethods;
      provider.use(async (ctx, next) => {
        await next();
        if (!ctx.path.endsWith('/.well-known/openid-configuration')) return;
        const doc = ctx.body as Record<string, unknown>;
        if (advertised === null) delete doc.token_endpoint_auth_methods_supported;
        else doc.token_endpoint_auth_methods_supported = advertised;
      });
    }
    net.setHandler(provider.callback());
    return provider;
  };
  let provider = build();

  return {
    url: net.url,
    issuer,
    get provider() {
      return provider;
    },
    /** The OP's private signing key, so a tampering proxy can forge validly signed tokens with wrong claims. */
    get privateJwk() {
      return jwks.keys[0];
    },
    /** How many times the JWKS was fetched from this OP. */
    get jwksFetches() {
      return jwksFetches;
    },
    /**
     * Replaces the OP's only signing key with a new one (new `kid`), without overlap: from now on the JWKS holds just
     * the new key and ID tokens are signed with it. Accounts and grants are kept (the OP's storage is shared). `next`
     * chooses the new JWKS (first key signs), e.g. an RSA key of another size.
     */
    rotateKey(next: { keys: Record<string, unknown>[] } = generateSigningJwks()) {
      jwks = next;
      provider = build();
    },
    accounts,
    close: net.close,
  };
}
export type OidcStandIn = Awaited<ReturnType<typeof startOidcStandIn>>;
