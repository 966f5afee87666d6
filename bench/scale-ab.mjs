// Two builds side by side on one seeded database: a returning sign-in's account work (AccountsService.signIn, as
// scale.bench.mjs measures it) at `users` users, runs interleaved A B A B …, each on its own copy of the seeded file.
//   node bench/scale-ab.mjs <dist A> <dist B> [users] [runs]
// Both dists must be inside this checkout (their imports resolve against its node_modules). SCALE_SEEDED below.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const SECRET = 'bench-app-secret-0123456789abcdefghijklmnopqrstuvwxyz';

if (process.argv[2] === '--measure') {
  // Child: one build, one database copy, 200 sign-ins of users spread over the table (scale.bench.mjs's pick).
  const [, , , dist, path, users] = process.argv;
  const from = (m) => import(pathToFileURL(resolve(dist, m)).href);
  const { createApp } = await from('bootstrap.js');
  const { loadConfig } = await from('config/config.js');
  const { AccountsService } = await from('accounts/accounts.service.js');
  const config = loadConfig({ DATABASE_URL: `sqlite:${path}`, APP_SECRET: SECRET, DEMO_IDP: 'false', PUBLIC_URL: 'http://bench.invalid' });
  const app = await createApp({ ...config, appSecret: SECRET }, { logger: false });
  const accounts = app.get(AccountsService);
  const n = Number(users);
  const ms = [];
  for (let k = 0; k < 200; k++) {
    const i = Math.floor((((k * 7919) % 1000) / 1000) * n);
    const email = `user-${i}@scale.test`;
    const t = performance.now();
    await accounts.signIn(
      { provider: 'corp', subject: `subject-${i}`, email, emailVerified: true, name: `User ${i}`, picture: null, claims: {} },
      { ctx: { ip: '127.0.0.1', userAgent: 'bench' } },
    );
    ms.push(performance.now() - t);
  }
  await app.close();
  ms.sort((a, b) => a - b);
  process.stdout.write(JSON.stringify({ median: ms[ms.length >> 1] }));
  process.exit(0);
}

const [a, b, users = '1000000', runs = '3'] = process.argv.slice(2);
if (!a || !b) {
  process.stderr.write('usage: node bench/scale-ab.mjs <dist A> <dist B> [users] [runs]\n');
  process.exit(2);
}
const { seedUsers } = await import('./seed-users.mjs');
const dir = mkdtempSync(join(tmpdir(), 'sls-scale-ab-'));
// SCALE_SEEDED=<path>: a database seeded before (bench/seed-users.mjs <path> <users>), copied and never changed.
const seeded = process.env.SCALE_SEEDED ?? join(dir, 'seeded.db');
if (!process.env.SCALE_SEEDED) {
  const t0 = Date.now();
  await seedUsers(seeded, Number(users));
  process.stdout.write(`seeded ${users} users in ${((Date.now() - t0) / 1000).toFixed(0)} s\n`);
}
const results = { [a]: [], [b]: [] };
for (let r = 0; r < Number(runs); r++) {
  for (const dist of r % 2 ? [b, a] : [a, b]) {
    const copy = join(dir, 'run.db');
    for (const ext of ['', '-wal', '-shm']) rmSync(`${copy}${ext}`, { force: true });
    for (const ext of ['', '-wal']) if (existsSync(`${seeded}${ext}`)) copyFileSync(`${seeded}${ext}`, `${copy}${ext}`);
    const out = spawnSync(process.execPath, [process.argv[1], '--measure', dist, copy, users], { encoding: 'utf8' });
    if (out.status !== 0) throw new Error(`${dist}: ${out.stderr}`);
    const { median } = JSON.parse(out.stdout.trim().split('\n').pop());
    results[dist].push(median);
    process.stdout.write(`${dist}: ${median.toFixed(3)} ms\n`);
  }
}
const med = (xs) => [...xs].sort((x, y) => x - y)[xs.length >> 1];
process.stdout.write(
  `median ${a}: ${med(results[a]).toFixed(3)} ms, ${b}: ${med(results[b]).toFixed(3)} ms, B / A ${(med(results[b]) / med(results[a])).toFixed(2)}\n`,
);
rmSync(dir, { recursive: true, force: true });
