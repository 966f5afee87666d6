import type { ResolvedConfig } from '../config/app-secret.js';
import { DEMO_PROVIDER_ID, type OidcProviderConfig } from '../config/config.js';
import { createOp } from './oidc-op.js';

/**
 * The built-in demo OpenID provider, so a newcomer can sign in without Google or Facebook credentials. It is mounted
 * at PUBLIC_URL/demo-idp, is off when NODE_ENV=production or DEMO_IDP=false, and keeps everything in memory.
 */
export function createDemoIdp(config: ResolvedConfig) {
  const demo = config.providers.find((p): p is OidcProviderConfig => p.type === 'oidc' && p.id === DEMO_PROVIDER_ID && p.demo === true);
  if (!demo) return undefined;
  return createOp({
    issuer: demo.issuer,
    title: 'Demo identity provider',
    clients: [
      { client_id: demo.clientId, client_secret: demo.clientSecret, redirect_uris: [`${config.publicUrl}/auth/${demo.id}/callback`] },
    ],
    // .invalid can never be a real mailbox (RFC 2606), so a demo "verified" email can never match a real account.
    claimsFor: (sub) => ({ name: sub, email: `${sub.toLowerCase()}@demo.invalid`, email_verified: true }),
    pkceRequired: true,
  });
}
