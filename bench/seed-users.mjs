// Seeds a database with `users` users and 1.5 identities each (every other user has a second provider), for the scale
// benchmark or a load test: `node bench/seed-users.mjs <sqlite-path> <users>`. Migrates first; bulk inserts with
// better-sqlite3 prepared statements in batches of 50,000 rows (the search-index triggers fire for each).
import Database from 'better-sqlite3';
import { inProcessApp } from './lib.mjs';

export const userId = (i) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`;
const identityId = (i, k) => `00000000-0000-4000-9${k}00-${String(i).padStart(12, '0')}`;

export async function seedUsers(path, users) {
  await (await inProcessApp(`sqlite:${path}`)).close(); // runs the migrations
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = OFF');
  const user = db.prepare(
    `INSERT INTO users (id, email, email_verified, name, picture, roles, provider_roles, disabled, created_at, updated_at)
     VALUES (?, ?, 1, ?, NULL, ?, '[]', 0, ?, ?)`,
  );
  const identity = db.prepare(
    `INSERT INTO identities (id, user_id, provider, subject, email, email_verified, name, picture, claims, mapped_roles, linked_at, last_sign_in_at)
     VALUES (?, ?, ?, ?, ?, 1, ?, NULL, '{}', '[]', ?, ?)`,
  );
  const t0 = Date.now() - users * 1000;
  const batch = db.transaction((from, to) => {
    for (let i = from; i < to; i++) {
      const at = t0 + i * 1000;
      const email = `user-${i}@scale.test`;
      user.run(userId(i), email, `User ${i}`, i === 0 ? '["user","admin"]' : '["user"]', at, at);
      identity.run(identityId(i, 1), userId(i), 'corp', `subject-${i}`, email, `User ${i}`, at, at);
      if (i % 2 === 0) identity.run(identityId(i, 2), userId(i), 'google', `g-${i}`, email, `User ${i}`, at, at);
    }
  });
  for (let i = 0; i < users; i += 50_000) batch(i, Math.min(users, i + 50_000));
  // After a bulk load, merge the trigram index's many small segments into one (as after any bulk import): a phrase
  // query then reads one b-tree per trigram instead of one per segment (at a million users: 3.7 s once, and a
  // substring search about 2.5× faster).
  db.prepare("INSERT INTO users_search (users_search) VALUES ('optimize')").run();
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [path, n] = process.argv.slice(2);
  const t = Date.now();
  await seedUsers(path, Number(n));
  console.log(`seeded ${n} users and ${Math.ceil(Number(n) * 1.5)} identities into ${path} in ${((Date.now() - t) / 1000).toFixed(1)} s`);
}
