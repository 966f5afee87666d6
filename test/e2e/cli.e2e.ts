import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { DataSource } from 'typeorm';
import { startService, TEST_APP_SECRET } from '../support/service.js';

const run = promisify(execFile);
const kidsOf = async (url: string) =>
  ((await (await fetch(`${url}/.well-known/jwks.json`)).json()) as { keys: { kid: string }[] }).keys.map((k) => k.kid);

/** `npm run cli -- keys:rotate` (the built CLI: `npm test` builds first) against the service's database, as an operator would. */
describe('CLI', () => {
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

  it('prints usage for an unknown command', async () => {
    await expect(run('node', ['dist/cli.js', 'nope'], { env: { ...process.env, NODE_OPTIONS: '' } })).rejects.toMatchObject({
      code: 2,
      stderr: expect.stringContaining('keys:rotate'),
    });
  });
});
