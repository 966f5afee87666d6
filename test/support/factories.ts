import { randomUUID } from 'node:crypto';
import type { INestApplication } from '@nestjs/common';
import { User } from '../../src/accounts/user.entity.js';
import { Db } from '../../src/database/db.service.js';
import { SessionsService } from '../../src/tokens/sessions.service.js';

/** Test data written straight into a running service's database, for tests that need many users or sessions. */
export function userRow(over: Partial<User> = {}): User {
  const now = Date.now();
  return {
    id: randomUUID(),
    email: null,
    emailVerified: false,
    name: null,
    picture: null,
    roles: ['user'],
    providerRoles: [],
    disabled: false,
    createdAt: now,
    updatedAt: now,
    ...over,
  };
}

export async function insertUser(app: INestApplication, over: Partial<User> = {}): Promise<User> {
  const user = userRow(over);
  await app.get(Db).run((m) => m.insert(User, user));
  return user;
}

/** Many users in one statement. */
export async function insertUsers(app: INestApplication, n: number, over: (i: number) => Partial<User>): Promise<User[]> {
  const users = Array.from({ length: n }, (_, i) => userRow(over(i)));
  await app.get(Db).run((m) => m.createQueryBuilder().insert().into(User).values(users).updateEntity(false).execute());
  return users;
}

/** A user with a session; returns the session's refresh token. */
export async function insertSession(app: INestApplication, over: Partial<User> = {}): Promise<{ user: User; refreshToken: string }> {
  const user = await insertUser(app, over);
  const issued = await app.get(Db).transaction((m) => app.get(SessionsService).create(m, user.id, null, { ip: null, userAgent: null }));
  return { user, refreshToken: issued.refreshToken };
}
