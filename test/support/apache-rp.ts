import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, closeSync, cpSync, existsSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { freePort } from './net.js';

/**
 * Apache httpd with mod_auth_openidc (an OpenID-certified relying party nobody here wrote) as a client of the service's
 * OpenID Provider: a child process on 127.0.0.1, no system configuration, no service, no root-owned path but the
 * modules. It runs the repository's example as the README does (examples/mod_auth_openidc: httpd.conf, protected.conf,
 * htdocs/, copied into a temporary folder, with its variables in the environment), so the README's example is what
 * the tests run.
 */
export const APACHE = process.env.APACHE_PATH ?? '/usr/sbin/apache2';
/** Debian's, as examples/mod_auth_openidc/httpd.conf loads them. */
const APACHE_MODULES = '/usr/lib/apache2/modules';
const EXAMPLE = resolve('examples/mod_auth_openidc');
const MODULES = [
  'mod_mpm_event.so',
  'mod_authz_core.so',
  'mod_authz_user.so',
  'mod_authn_core.so',
  'mod_mime.so',
  'mod_dir.so',
  'mod_include.so',
  'mod_auth_openidc.so',
];

/** Why Apache with mod_auth_openidc cannot run here, or undefined when it can. */
export function apacheMissing(): string | undefined {
  if (!existsSync(APACHE)) return `no Apache at ${APACHE} (apt-get install -y apache2 libapache2-mod-auth-openidc)`;
  const missing = MODULES.filter((so) => !existsSync(join(APACHE_MODULES, so)));
  if (missing.length) return `no ${missing.join(', ')} in ${APACHE_MODULES} (apt-get install -y libapache2-mod-auth-openidc)`;
  return undefined;
}

/** The URLs of an Apache that is not started yet: the client is registered with them first. */
export interface ApacheRpAddress {
  port: number;
  url: string;
  protectedUrl: string;
  /** OIDCRedirectURI: where the code comes back, and mod_auth_openidc's logout endpoint (`?logout=`). */
  redirectUri: string;
  /** Where a sign-out lands (OIDCDefaultLoggedOutURL): the client's post-logout redirect URI. */
  loggedOutUrl: string;
  /** mod_auth_openidc's back-channel logout receiver (OpenID Connect Back-Channel Logout 1.0 §2.5). */
  backchannelLogoutUri: string;
}

export interface ApacheRp extends ApacheRpAddress {
  /** mod_auth_openidc's logout URL: ends its session, then RP-initiated logout at the OP (OIDCDefaultLoggedOutURL). */
  logoutUrl: string;
  /** Apache's error log (mod_auth_openidc logs there), for failure messages. */
  log(): string;
  close(): Promise<void>;
}

export async function apacheRpAddress(): Promise<ApacheRpAddress> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  return {
    port,
    url,
    protectedUrl: `${url}/protected/`,
    redirectUri: `${url}/protected/redirect_uri`,
    loggedOutUrl: `${url}/`,
    backchannelLogoutUri: `${url}/protected/redirect_uri?logout=backchannel`,
  };
}

/**
 * Starts Apache in the foreground (`-X`: one process, so mod_auth_openidc's shared-memory session cache is one) at
 * `address`, as the client `clientId` of the OpenID Provider whose PUBLIC_URL is `issuer`.
 */
export async function startApacheRp(
  address: ApacheRpAddress,
  opts: { issuer: string; clientId: string; clientSecret: string },
): Promise<ApacheRp> {
  const dir = mkdtempSync(join(tmpdir(), 'sls-apache-'));
  const example = join(dir, 'example');
  cpSync(EXAMPLE, example, { recursive: true });
  // As root, Apache serves as another user (it refuses to serve as root), who must read the pages.
  const asRoot = process.getuid?.() === 0;
  if (asRoot) chmodR(dir);
  // The example's server, and what only a test needs: another user under root, mod_auth_openidc's log lines.
  const quote = (s: string) => `"${s.replace(/["\\]/g, '\\$&')}"`;
  const conf = [
    `Include ${quote(join(example, 'httpd.conf'))}`,
    `LogLevel warn auth_openidc:${process.env.APACHE_OIDC_LOG_LEVEL ?? 'info'}`,
    ...(asRoot ? ['User www-data', 'Group www-data'] : []),
    '',
  ].join('\n');
  writeFileSync(join(dir, 'test.conf'), conf);
  const env = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    EXAMPLE_DIR: example,
    RUN_DIR: dir,
    APP_PORT: String(address.port),
    APP_URL: address.url,
    SLS_URL: opts.issuer,
    OIDC_CLIENT_ID: opts.clientId,
    OIDC_CLIENT_SECRET: opts.clientSecret,
    OIDC_CRYPTO_PASSPHRASE: randomBytes(32).toString('base64url'),
  };

  // Its stdout and stderr (where the example's ErrorLog goes) into a file: /dev/stderr cannot be opened on a pipe.
  const logFile = join(dir, 'apache.log');
  const out = openSync(logFile, 'a');
  const child: ChildProcess = spawn(APACHE, ['-f', join(dir, 'test.conf'), '-X'], { env, stdio: ['ignore', out, out] });
  closeSync(out);
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  /** The last lines of Apache's log, for a failure's message. */
  const log = () => (existsSync(logFile) ? readFileSync(logFile, 'utf8') : '').split('\n').slice(-60).join('\n');
  const rp: ApacheRp = {
    ...address,
    logoutUrl: `${address.redirectUri}?logout=`,
    log,
    async close() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        const killed = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(killed);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
  for (let i = 0; i < 200; i++) {
    if (child.exitCode !== null) {
      const why = log();
      await rp.close();
      throw new Error(`Apache exited with ${child.exitCode}:\n${why}`);
    }
    if (
      await fetch(address.loggedOutUrl).then(
        (r) => r.ok,
        () => false,
      )
    )
      return rp;
    await new Promise((r) => setTimeout(r, 50));
  }
  const why = log();
  await rp.close();
  throw new Error(`Apache did not answer within 10 s:\n${why}`);
}

/** Runs `step`; when it fails, the error carries the tail of Apache's log (what mod_auth_openidc said). */
export async function withApacheLog<T>(rp: ApacheRp, step: () => Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (e) {
    if (e instanceof Error) e.message += `\n--- Apache error log (tail) ---\n${rp.log()}`;
    throw e;
  }
}

/** Folders 0755, files 0644: readable by the user Apache serves as when started by root. */
function chmodR(path: string) {
  chmodSync(path, 0o755);
  for (const e of readdirSync(path, { withFileTypes: true })) {
    if (e.isDirectory()) chmodR(join(path, e.name));
    else chmodSync(join(path, e.name), 0o644);
  }
}
