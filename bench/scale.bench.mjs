// Scale: a returning sign-in's account work and an admin search at 1,000 users and at 1,000,000 users (1.5 identities
// each), on SQLite; the database's size and the service's memory idle and under load.
import { statSync } from 'node:fs';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AccountsService } from '../dist/accounts/accounts.service.js';
import { AdminUsersService } from '../dist/admin/admin-users.service.js';
import { SessionsService } from '../dist/tokens/sessions.service.js';
import { SMOKE, inProcessApp, load, median, rssMiB, startServiceProcess } from './lib.mjs';
import { seedUsers, userId } from './seed-users.mjs';

const SIZES = SMOKE ? [1_000, 10_000] : [1_000, 1_000_000];
const ctx = { ip: '127.0.0.1', userAgent: 'bench' };

async function timed(times, fn) {
  const ms = [];
  for (let k = 0; k < times; k++) {
    const t = performance.now();
    await fn(k);
    ms.push(performance.now() - t);
  }
  return median(ms);
}

async function measure(n) {
  const path = join(mkdtempSync(join(tmpdir(), 'sls-scale-')), 'app.db');
  const seedStart = Date.now();
  await seedUsers(path, n);
  const seedSeconds = (Date.now() - seedStart) / 1000;
  const app = await inProcessApp(`sqlite:${path}`);
  const accounts = app.get(AccountsService);
  const admin = app.get(AdminUsersService);
  const pick = (k) => Math.floor((((k * 7919) % 1000) / 1000) * n);
  const signIn = await timed(200, (k) => {
    const i = pick(k);
    const email = `user-${i}@scale.test`;
    return accounts.signIn(
      { provider: 'corp', subject: `subject-${i}`, email, emailVerified: true, name: `User ${i}`, picture: null, claims: {} },
      { ctx },
    );
  });
  const searchOne = await timed(20, (k) => admin.list(`user-${pick(k)}@scale.test`, 20));
  const searchNone = await timed(5, () => admin.list('nobody-matches-this', 20));
  const searchFew = await timed(20, (k) => admin.list(`user-${pick(k)}@`, 20));
  const searchMany = await timed(20, () => admin.list('scale.test', 20));
  const issued = await app.get(SessionsService).create(userId(0), null, ctx);
  await app.close();
  const size = ['', '-wal'].reduce((s, ext) => s + (statSync(`${path}${ext}`, { throwIfNoEntry: false })?.size ?? 0), 0);

  const service = await startServiceProcess({ DATABASE_URL: `sqlite:${path}` });
  try {
    const res = await fetch(`${service.url}/auth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ grant_type: 'refresh_token', refresh_token: issued.refreshToken }),
    });
    const { access_token } = await res.json();
    await new Promise((r) => setTimeout(r, 500));
    const idle = rssMiB(service.child.pid);
    const loaded = await load({
      url: `${service.url}/admin/users?query=scale.test&limit=20`,
      headers: { authorization: `Bearer ${access_token}` },
      duration: SMOKE ? 1 : 5,
    });
    const busy = rssMiB(service.child.pid);
    return { n, seedSeconds, signIn, searchOne, searchNone, searchFew, searchMany, size, idle, busy, loaded };
  } finally {
    await service.stop();
  }
}

export async function scaleBench() {
  const [small, large] = [await measure(SIZES[0]), await measure(SIZES[1])];
  const ms = (x) => `${x.toFixed(2)} ms`;
  const row = (what, key, target) => [
    what,
    ms(small[key]),
    ms(large[key]),
    `${(large[key] / small[key]).toFixed(1)}×${target ? ` (${target})` : ''}`,
  ];
  const users = (n) => n.toLocaleString('en-US');
  return [
    row('returning sign-in: identity look-up, profile refresh, audit row (AccountsService.signIn, median of 200)', 'signIn', 'target ≤ 2×'),
    row('admin search for one whole email address (indexed equality, median of 20)', 'searchOne', 'target ≤ 2×'),
    row('admin search for a substring matching nobody (trigram index, median of 5)', 'searchNone', 'target ≤ 2×'),
    row('admin search for a substring matching one ("user-123@", trigram index, median of 20)', 'searchFew', 'target ≤ 2×'),
    row('admin search for a substring matching many ("scale.test", first page, median of 20)', 'searchMany', 'target ≤ 2×'),
    ['database size (SQLite file + WAL)', `${(small.size / 2 ** 20).toFixed(1)} MiB`, `${(large.size / 2 ** 20).toFixed(0)} MiB`, ''],
    ['service RSS idle / under admin-search load', `${small.idle} / ${small.busy} MiB`, `${large.idle} / ${large.busy} MiB`, ''],
    [
      'admin search GET /admin/users?query=scale.test under load (10 connections)',
      `${Math.round(small.loaded.rps)}/s`,
      `${Math.round(large.loaded.rps)}/s`,
      '',
    ],
    [
      `seeding (bench/seed-users.mjs: ${users(SIZES[1])} users, ${users(SIZES[1] * 1.5)} identities)`,
      `${small.seedSeconds.toFixed(1)} s`,
      `${large.seedSeconds.toFixed(1)} s`,
      '',
    ],
  ];
}
