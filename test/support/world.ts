import { startFacebookFake } from './facebook-fake.js';
import { freePort } from './net.js';
import { startOidcStandIn, type OidcStandIn, type StandInOptions } from './oidc-stand-in.js';
import type { OpClient } from '../../src/demo/oidc-op.js';
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
type WorldOptions = {
  clock?: Clock;
  databaseUrl?: string;
  logStream?: Writable;
  /**
   * More generic OIDC providers, each its own stand-in OP with one client `<id>-client` (secret `secret`, or its own),
   * enabled as OIDC_PROVIDERS entry `<id>`. `client` adds to that client's registration.
   */
  standIns?: Record<string, Omit<StandInOptions, 'clients'> & { client?: Partial<OpClient> }>;
};

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
    // passport-google-oauth20 (node-oauth) posts the client secret in the form; Google accepts that and Basic.
    clients: [
      {
        client_id: 'google-client',
        client_secret: 'google-secret',
        redirect_uris: cb('google'),
        token_endpoint_auth_method: 'client_secret_post',
      },
    ],
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
  const standIns: Record<string, OidcStandIn> = {};
  const standInEnv: Record<string, string> = {};
  for (const [id, { client, ...options }] of Object.entries(opts.standIns ?? {})) {
    const clientId = `${id}-client`;
    const secret = client?.client_secret ?? 'secret';
    standIns[id] = await startOidcStandIn({
      ...options,
      clients: [{ client_id: clientId, client_secret: secret, redirect_uris: cb(id), ...client }],
    });
    const prefix = `OIDC_${id.toUpperCase().replace(/-/g, '_')}_`;
    Object.assign(standInEnv, {
      [`${prefix}ISSUER`]: standIns[id].issuer,
      [`${prefix}CLIENT_ID`]: clientId,
      [`${prefix}CLIENT_SECRET`]: secret,
    });
  }

  const env: Record<string, string> = {
    GOOGLE_CLIENT_ID: 'google-client',
    GOOGLE_CLIENT_SECRET: 'google-secret',
    GOOGLE_AUTHORIZATION_URL: `${google.url}/auth`,
    GOOGLE_TOKEN_URL: `${google.url}/token`,
    GOOGLE_USERINFO_URL: `${google.url}/userinfo`,
    GOOGLE_JWKS_URL: `${google.url}/jwks`,
    ...facebook.env,
    OIDC_PROVIDERS: ['corp', 'acme', 'shady', ...Object.keys(standIns)].join(','),
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
    ...standInEnv,
    ...extraEnv,
  };
  const running = [google, facebook, corp, acme, shady, proxy, ...Object.values(standIns)];
  let service: RunningService;
  try {
    service = await startService(env, { port, clock: opts.clock, databaseUrl: opts.databaseUrl, logStream: opts.logStream });
  } catch (e) {
    // Nothing started here may outlive a failed start: open servers would keep Jest from exiting.
    for (const x of running) await x.close();
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
    /** The stand-ins asked for in `standIns`, by provider id. */
    standIns,
    /** Another instance on the same database and APP_SECRET, behind the same PUBLIC_URL. */
    async secondInstance(): Promise<RunningService> {
      const s = await startService(env, { databaseUrl: service.databaseUrl, publicUrl: service.publicUrl, clock: opts.clock });
      extra.push(s);
      return s;
    },
    async close() {
      for (const s of extra) await s.close();
      await service.close();
      for (const x of running) await x.close();
    },
  };
}
export type World = Awaited<ReturnType<typeof startWorldOnce>>;
