import type { IncomingMessage, ServerResponse } from 'node:http';
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

/**
 * The demo provider's pages get this instead of the service's default CSP, which has `form-action 'self'`: its sign-in
 * form's POST ends, through redirects, at an app on another origin (an app's `returnTo`, or an OpenID Provider
 * client's redirect URI), and Chromium checks form-action on every redirect of a form submission, so the sign-in
 * stopped on the demo page (seen with mod_auth_openidc, test/browser/mod-auth-openidc.e2e.ts). Nothing else is
 * loosened: its one inline `<style>`, no scripts, not framed.
 */
export const DEMO_IDP_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'";

/** The demo provider's request handler, its pages under DEMO_IDP_CSP. */
export function demoIdpHandler(demo: NonNullable<ReturnType<typeof createDemoIdp>>) {
  const handle = demo.callback();
  return (req: IncomingMessage, res: ServerResponse) => {
    res.setHeader('Content-Security-Policy', DEMO_IDP_CSP);
    return handle(req, res);
  };
}
