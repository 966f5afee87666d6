import { jest } from '@jest/globals';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { DataSource } from 'typeorm';
import { startService, tempDatabase, TEST_APP_SECRET } from '../support/service.js';
import { insertUser } from '../support/factories.js';
import { ClientsService } from '../../src/clients/clients.service.js';

const run = promisify(execFile);
const kidsOf = async (url: string) =>
  ((await (await fetch(`${url}/.well-known/jwks.json`)).json()) as { keys: { kid: string }[] }).keys.map((k) => k.kid);

/** `npm run cli -- keys:rotate` (the built CLI: `npm test` builds first) against the service's database, as an operator would. */
describe('CLI', () => {
  // Each test starts a dozen CLI processes (about 1 s of CPU each): on a shared 2-core machine that nears 30 s.
  jest.setTimeout(90_000);
  it('rotates the signing key; the running service publishes the new key within a second', async () => {
    const service = await startService();
    const kidsBefore = await kidsOf(service.url);
    const { stdout } = await run('node', ['dist/cli.js', 'keys:rotate'], {
      env: { ...process.env, DATABASE_URL: service.databaseUrl, APP_SECRET: TEST_APP_SECRET, NODE_OPTIONS: '' },
    });
    const newKid = /signing key is now (\S+);/.exec(stdout)![1];
    expect(kidsBefore).not.toContain(newKid);
    const start = Date.now();
    let kids: string[] = [];
    while (Date.now() - start < 1000 && !kids.includes(newKid)) {
      kids = await kidsOf(service.url);
    }
    expect(kids).toEqual(expect.arrayContaining([...kidsBefore, newKid]));
    const rows = await service.app.get(DataSource).query('SELECT kid FROM signing_keys WHERE retired_at IS NULL');
    expect(rows).toEqual([{ kid: newKid }]);
    await service.close();
  });

  it('lists users, grants and revokes roles by email, disables and enables, all audited as "cli"', async () => {
    const service = await startService();
    const env = { ...process.env, DATABASE_URL: service.databaseUrl, APP_SECRET: TEST_APP_SECRET, NODE_OPTIONS: '' };
    const cli = (...args: string[]) => run('node', ['dist/cli.js', ...args], { env });
    await insertUser(service.app, { email: 'ops@cli.test', emailVerified: true, name: 'Ops' });
    expect((await cli('users:list', 'ops@')).stdout).toMatch(/ops@cli\.test\tOps\tuser\tactive/);
    expect((await cli('roles:grant', 'OPS@cli.test', 'auditor')).stdout).toContain('roles user, auditor');
    expect((await cli('roles:revoke', 'ops@cli.test', 'auditor')).stdout).toContain('roles user');
    expect((await cli('users:disable', 'ops@cli.test')).stdout).toContain('disabled');
    expect((await cli('users:list')).stdout).toContain('disabled');
    expect((await cli('users:enable', 'ops@cli.test')).stdout).toContain('enabled');
    await expect(cli('roles:grant', 'nobody@cli.test', 'x')).rejects.toMatchObject({
      code: 1,
      stderr: expect.stringContaining('no user nobody@cli.test'),
    });
    const audit: { type: string; actor_id: string }[] = await service.app
      .get(DataSource)
      .query(`SELECT type, actor_id FROM audit_events ORDER BY id`);
    expect(audit.map((a) => `${a.type}:${a.actor_id}`)).toEqual([
      'role_changed:cli',
      'role_changed:cli',
      'user_disabled:cli',
      'user_enabled:cli',
    ]);
    await service.close();
  });

  it('creates, lists, rotates, disables, enables and deletes API clients; the printed secret obtains a token', async () => {
    const service = await startService();
    const env = { ...process.env, DATABASE_URL: service.databaseUrl, APP_SECRET: TEST_APP_SECRET, NODE_OPTIONS: '' };
    const cli = (...args: string[]) => run('node', ['dist/cli.js', ...args], { env });
    const token = (id: string, secret: string) =>
      fetch(`${service.url}/auth/token`, {
        method: 'POST',
        body: new URLSearchParams({ grant_type: 'client_credentials', client_id: id, client_secret: secret }),
      }).then((r) => r.status);
    const created = (await cli('clients:create', 'backup job', 'backup,reports', 'files:read')).stdout;
    const id = /client_id: (\S+)/.exec(created)![1];
    const secret = /client_secret: (\S+)/.exec(created)![1];
    expect(created).toContain('backup job\tbackup,reports\tfiles:read\tactive');
    expect(await token(id, secret)).toBe(200);
    expect((await cli('clients:list')).stdout).toContain(id);
    const rotated = (await cli('clients:rotate-secret', id, '0')).stdout;
    expect(rotated).toContain('the previous secret no longer works');
    expect(await token(id, secret)).toBe(401);
    expect(await token(id, /client_secret: (\S+)/.exec(rotated)![1])).toBe(200);
    expect((await cli('clients:disable', id)).stdout).toContain('disabled');
    expect((await cli('clients:enable', id)).stdout).toContain('active');
    expect((await cli('clients:delete', id)).stdout).toContain('deleted');
    await expect(cli('clients:show', id)).rejects.toMatchObject({ code: 1, stderr: expect.stringContaining(`no client ${id}`) });
    await expect(cli('clients:create', 'x', 'bad role')).rejects.toMatchObject({
      code: 1,
      stderr: expect.stringContaining('not a valid role'),
    });
    const audit: { type: string }[] = await service.app
      .get(DataSource)
      .query(`SELECT type FROM audit_events WHERE actor_id = 'cli' ORDER BY id`);
    expect(audit.map((a) => a.type)).toEqual([
      'client_created',
      'client_secret_rotated',
      'client_disabled',
      'client_enabled',
      'client_deleted',
    ]);
    await service.close();
  });

  it('creates, shows and updates an OpenID Provider client’s metadata; a public client gets no secret; bad input is refused', async () => {
    const service = await startService();
    const env = { ...process.env, DATABASE_URL: service.databaseUrl, APP_SECRET: TEST_APP_SECRET, NODE_OPTIONS: '' };
    const cli = (...args: string[]) => run('node', ['dist/cli.js', ...args], { env });
    const created = (
      await cli(
        'clients:create',
        'Wiki',
        '--redirect-uri',
        'https://wiki.test/cb',
        '--redirect-uri=http://127.0.0.1:8080/cb',
        '--post-logout-redirect-uri',
        'https://wiki.test/bye',
        '--backchannel-logout-uri',
        'https://wiki.test/bcl',
        '--token-endpoint-auth-method',
        'client_secret_post',
        '--first-party',
      )
    ).stdout;
    const id = /client_id: (\S+)/.exec(created)![1];
    expect(created).toMatch(/client_secret: \S+/);
    const shown = (await cli('clients:show', id)).stdout;
    for (const line of [
      'grant_types: authorization_code refresh_token',
      'token_endpoint_auth_method: client_secret_post',
      'redirect_uris: https://wiki.test/cb http://127.0.0.1:8080/cb',
      'post_logout_redirect_uris: https://wiki.test/bye',
      'backchannel_logout_uri: https://wiki.test/bcl',
      'first_party: true',
    ]) {
      expect(shown).toContain(line);
    }
    const updated = (
      await cli('clients:update', id, '--redirect-uri', 'https://wiki.test/new', '--first-party', 'false', '--name', 'Wiki 2')
    ).stdout;
    expect(updated).toContain('redirect_uris: https://wiki.test/new\n');
    expect(updated).toContain('first_party: false');
    expect(updated).toContain('name: Wiki 2');
    // What was not named stays as it was.
    expect(updated).toContain('backchannel_logout_uri: https://wiki.test/bcl');
    expect(updated).toContain('post_logout_redirect_uris: https://wiki.test/bye');
    // The service sees the same client.
    expect(await service.app.get(ClientsService).get(id)).toMatchObject({
      name: 'Wiki 2',
      redirect_uris: ['https://wiki.test/new'],
      first_party: false,
    });

    const spa = (await cli('clients:create', 'SPA', '--redirect-uri', 'https://spa.test/cb', '--token-endpoint-auth-method', 'none'))
      .stdout;
    expect(spa).toContain('a public client: no secret');
    expect(spa).not.toContain('client_secret:');
    expect(spa).toContain('token_endpoint_auth_method: none');

    for (const [args, message] of [
      [['clients:create', 'x', '--redirect-uri', 'https://x.test/cb#frag'], 'fragment'],
      [['clients:create', 'x', '--token-endpoint-auth-method', 'none'], 'cannot use client_credentials'],
      [['clients:update', id, '--grant-types', 'client_credentials'], 'unknown option --grant-types'],
    ] as const) {
      await expect(cli(...args)).rejects.toMatchObject({ code: 1, stderr: expect.stringContaining(message) });
    }
    const audit: { type: string }[] = await service.app
      .get(DataSource)
      .query(`SELECT type FROM audit_events WHERE actor_id = 'cli' ORDER BY id`);
    expect(audit.map((a) => a.type)).toEqual(['client_created', 'client_updated', 'client_created']);
    await service.close();
    // Seven CLI processes: about 10 s each on a busy shared machine.
  }, 240_000);

  it('applies migrations apart from start-up (npm run migration:run), and again is a no-op', async () => {
    const databaseUrl = `sqlite:${tempDatabase()}`;
    const env = { ...process.env, DATABASE_URL: databaseUrl, NODE_OPTIONS: '' };
    expect((await run('node', ['dist/database/migrate.js'], { env })).stdout).toMatch(
      /applied: InitialSchema\d+, Revocations\d+, Accounts\d+, ApiClients\d+, SearchIndexes\d+/,
    );
    expect((await run('node', ['dist/database/migrate.js'], { env })).stdout).toContain('nothing to apply');
    const service = await startService({}, { databaseUrl });
    expect((await fetch(`${service.url}/health/ready`)).status).toBe(200);
    await service.close();
  });

  it('prints usage for an unknown command', async () => {
    await expect(run('node', ['dist/cli.js', 'nope'], { env: { ...process.env, NODE_OPTIONS: '' } })).rejects.toMatchObject({
      code: 2,
      stderr: expect.stringContaining('keys:rotate'),
    });
  });
});
