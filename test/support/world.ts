import { startFacebookFake } from './facebook-fake.js';
import { freePort } from './net.js';
import { startOidcStandIn } from './oidc-stand-in.js';
import { startService, type RunningService } from './service.js';
import { startTamperingProxy } from './tampering-proxy.js';
import type { Clock } from '../../src/common/clock.js';
import type { Writable } from 'node:stream';

/**
 * The service with every provider kind enabled against local stand-ins:
 * - google: oidc-provider as Google (issuer https://accounts.google.com, UserInfo at /userinfo, PKCE required);
 * - facebook: the Facebook fake;
 * - corp: a company OP that requires PKCE; acme: a second, ordinary OP;
 * - shady: an OP behind a tampering proxy.
 */
type WorldOptions = { clock?: Clock; databaseUrl?: string; logStream?: Writable };

/**
 * The port is chosen before the stand-ins are told the callback URLs, and only taken when the service listens; if
 * something took it meanwhile (EADDRINUSE), everything started is closed and the world starts again on another port.
 */
export async function startWorld(extraEnv: Record<string, string> = {}, opts: WorldOptions = {}) {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startWorldOnce(extraEnv, opts);
    } catch (e) {
      if ((e as { code?: string }).code !== 'EADDRINUSE' || attempt === 3) throw e;
    }
  }
}

async function startWorldOnce(extraEnv: Record<string, string>, opts: WorldOptions) {
  const port = await freePort();
  const publicUrl = `http://127.0.0.1:${port}`;
  const cb = (id: string) => [`${publicUrl}/auth/${id}/callback`];
  const google = await startOidcStandIn({
    issuer: 'https://accounts.google.com',
    userinfoPath: '/userinfo',
    idTokenCarriesClaims: true,
    pkceRequired: true,
    clients: [{ client_id: 'google-client', client_secret: 'google-secret', redirect_uris: cb('google') }],
  });
  const facebook = await startFacebookFake({ clientId: 'fb-app', clientSecret: 'fb-secret' });
  const corp = await startOidcStandIn({
    pkceRequired: true,
    clients: [{ client_id: 'corp-client', client_secret: 'corp-secret', redirect_uris: cb('corp') }],
  });
  const acme = await startOidcStandIn({ clients: [{ client_id: 'acme-client', client_secret: 'acme-secret', redirect_uris: cb('acme') }] });
  const proxy = await startTamperingProxy();
  const shady = await startOidcStandIn({
    issuer: proxy.url,
    clients: [{ client_id: 'shady-client', client_secret: 'shady-secret', redirect_uris: cb('shady') }],
  });
  proxy.connect(shady.url, shady.privateJwk);

  const env: Record<string, string> = {
    GOOGLE_CLIENT_ID: 'google-client',
    GOOGLE_CLIENT_SECRET: 'google-secret',
    GOOGLE_AUTHORIZATION_URL: `${google.url}/auth`,
    GOOGLE_TOKEN_URL: `${google.url}/token`,
    GOOGLE_USERINFO_URL: `${google.url}/userinfo`,
    GOOGLE_JWKS_URL: `${google.url}/jwks`,
    ...facebook.env,
    OIDC_PROVIDERS: 'corp,acme,shady',
    OIDC_CORP_ISSUER: corp.issuer,
    OIDC_CORP_CLIENT_ID: 'corp-client',
    OIDC_CORP_CLIENT_SECRET: 'corp-secret',
    OIDC_CORP_NAME: 'Corp SSO',
    OIDC_ACME_ISSUER: acme.issuer,
    OIDC_ACME_CLIENT_ID: 'acme-client',
    OIDC_ACME_CLIENT_SECRET: 'acme-secret',
    OIDC_SHADY_ISSUER: shady.issuer,
    OIDC_SHADY_CLIENT_ID: 'shady-client',
    OIDC_SHADY_CLIENT_SECRET: 'shady-secret',
    ...extraEnv,
  };
  const standIns = [google, facebook, corp, acme, shady, proxy];
  let service: RunningService;
  try {
    service = await startService(env, { port, clock: opts.clock, databaseUrl: opts.databaseUrl, logStream: opts.logStream });
  } catch (e) {
    // Nothing started here may outlive a failed start: open servers would keep Jest from exiting.
    for (const x of standIns) await x.close();
    throw e;
  }
  const extra: RunningService[] = [];
  return {
    service,
    env,
    google,
    facebook,
    corp,
    acme,
    shady,
    proxy,
    /** Another instance on the same database and APP_SECRET, behind the same PUBLIC_URL. */
    async secondInstance(): Promise<RunningService> {
      const s = await startService(env, { databaseUrl: service.databaseUrl, publicUrl: service.publicUrl, clock: opts.clock });
      extra.push(s);
      return s;
    },
    async close() {
      for (const s of extra) await s.close();
      await service.close();
      for (const x of standIns) await x.close();
    },
  };
}
export type World = Awaited<ReturnType<typeof startWorldOnce>>;
