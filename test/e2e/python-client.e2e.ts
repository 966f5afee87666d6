import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { TestBrowser } from '../support/browser.js';
import { REDIRECT, startOpenIdWorld, type OpenIdWorld, type RegisteredClient } from '../support/relying-party.js';

/**
 * Python, the way our users' Python apps do it (issue 17): a web app on Debian's python3-authlib signs a person in
 * through our OpenID Provider (test/support/python/authlib_rp.py). Authlib builds the authorization URL and checks
 * state, exchanges the code with client_secret_basic, verifies the ID token against our JWKS and calls UserInfo; the
 * person's part (our sign-in page, the company provider) runs in the TestBrowser, as it would in their browser. Skips,
 * saying why, where python3-authlib is not installed (CI installs it: .ci/run).
 */
const run = promisify(execFile);
const SCRIPT = new URL('../support/python/authlib_rp.py', import.meta.url).pathname;
// Debian's python first: a pyenv python3 on PATH does not see Debian's packages.
const PYTHON = ['/usr/bin/python3', 'python3'];

async function pythonWithAuthlib(): Promise<string | undefined> {
  for (const python of PYTHON) {
    if (python.startsWith('/') && !existsSync(python)) continue;
    try {
      await run(python, ['-c', 'import authlib.jose, authlib.integrations.requests_client, requests']);
      return python;
    } catch {
      // not this one
    }
  }
  return undefined;
}

/** The app as a process: its first line is where it sends the browser, then it waits for the callback URL. */
function startApp(python: string, c: RegisteredClient, issuer: string) {
  const child = spawn(python, [SCRIPT], {
    env: {
      ...process.env,
      ISSUER: issuer,
      CLIENT_ID: c.client_id,
      CLIENT_SECRET: c.client_secret,
      REDIRECT_URI: REDIRECT,
      AUTHLIB_INSECURE_TRANSPORT: '1',
    },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const nextLine = async () => {
    const { value, done } = await lines.next();
    if (done) throw new Error(`the Python app ended (${await exited}): ${stderr}`);
    return JSON.parse(value as string) as Record<string, any>;
  };
  return {
    nextLine,
    exited,
    stderr: () => stderr,
    callback: (url: string) => child.stdin.end(`${url}\n`),
    kill: () => child.kill(),
  };
}

let op: OpenIdWorld;
let client: RegisteredClient;
let python: string | undefined;

beforeAll(async () => {
  python = await pythonWithAuthlib();
  if (!python) return;
  op = await startOpenIdWorld();
  client = await op.register({ name: 'Python app', redirect_uris: [REDIRECT], first_party: true });
});

afterAll(async () => {
  await op?.world.close();
});

afterEach(() => {
  if (op) expect(op.world.service.serverErrors).toEqual([]);
});

function skipped(): boolean {
  if (python) return false;
  console.warn('SKIPPED: no python3 with authlib (apt-get install -y python3-authlib)');
  if (process.env.REQUIRE_SERVICES) throw new Error('python3-authlib is required in CI');
  return true;
}

describe('a real client: Python authlib', () => {
  it('signs a person in: state checked, code exchanged with client_secret_basic, ID token verified against our JWKS, UserInfo', async () => {
    if (skipped()) return;
    const app = startApp(python!, client, op.world.service.publicUrl);
    try {
      const { authorization_url, state } = await app.nextLine();
      const sent = new URL(authorization_url);
      expect(sent.origin + sent.pathname).toBe(`${op.world.service.publicUrl}/oidc/auth`);
      expect(Object.fromEntries(sent.searchParams)).toMatchObject({
        response_type: 'code',
        client_id: client.client_id,
        redirect_uri: REDIRECT,
        state,
        code_challenge_method: 'S256',
      });
      expect(sent.searchParams.get('nonce')).toEqual(expect.any(String));
      const { back, sawSignInPage } = await op.browse(new TestBrowser(), sent, 'alice');
      expect(sawSignInPage).toBe(true);
      app.callback(back.href);
      const result = await app.nextLine();
      expect(await app.exited).toBe(0);
      expect(result.token_type.toLowerCase()).toBe('bearer');
      expect(result.id_token).toMatchObject({
        iss: op.world.service.publicUrl,
        aud: client.client_id,
        azp: client.client_id,
        nonce: sent.searchParams.get('nonce'),
      });
      expect(result.userinfo).toEqual({
        sub: result.id_token.sub,
        name: 'Alice',
        email: 'alice@corp.test',
        email_verified: true,
      });
    } finally {
      app.kill();
    }
  });

  it('refuses a callback that is not its own: authlib checks state (CSRF, RFC 6749 §10.12) before spending the code', async () => {
    if (skipped()) return;
    const app = startApp(python!, client, op.world.service.publicUrl);
    try {
      const { authorization_url } = await app.nextLine();
      const { back } = await op.browse(new TestBrowser(), new URL(authorization_url), 'alice');
      back.searchParams.set('state', 'forged');
      app.callback(back.href);
      expect(await app.exited).not.toBe(0);
      expect(app.stderr()).toMatch(/MismatchingStateException|mismatching_state/);
    } finally {
      app.kill();
    }
  });
});
