import { randomUUID } from 'node:crypto';
import type { INestApplicationContext } from '@nestjs/common';
import { Identity } from '../../src/accounts/identity.entity.js';
import { User } from '../../src/accounts/user.entity.js';
import type { ProviderProfile } from '../../src/accounts/provider-profile.js';
import { Clock } from '../../src/common/clock.js';
import { Database } from '../../src/database/db.service.js';
import { SessionsService } from '../../src/tokens/sessions.service.js';

/**
 * Test data: small builders that fill in every field with a harmless default, so a test states only what it is
 * about (`userRow({ roles: ['user', 'admin'] })`), and inserts that write them through the service's own Database (on
 * SQLite its queue keeps them from interleaving with the service's work). Any Nest context will do: a running app
 * (e2e) or a medium spec's testing module.
 */
type Context = Pick<INestApplicationContext, 'get'>;

let counter = 0;
/** A name no other test data has, readable in a failure message: `ada-7`. */
export const unique = (prefix: string) => `${prefix}-${++counter}`;

const nowIn = (ctx?: Context) => (ctx ? ctx.get(Clock).now() : Date.now());

export function userRow(over: Partial<User> = {}, now = Date.now()): User {
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

export function identityRow(userId: string, over: Partial<Identity> = {}, now = Date.now()): Identity {
  return {
    id: randomUUID(),
    userId,
    provider: 'acme',
    subject: unique('subject'),
    email: null,
    emailVerified: false,
    name: null,
    picture: null,
    claims: {},
    mappedRoles: [],
    linkedAt: now,
    lastSignInAt: now,
    ...over,
  };
}

/** What a strategy hands to AccountsService.signIn: a new subject at `acme` unless told otherwise. */
export function profile(over: Partial<ProviderProfile> = {}): ProviderProfile {
  const subject = over.subject ?? unique('subject');
  return {
    provider: 'acme',
    subject,
    email: null,
    emailVerified: false,
    name: null,
    picture: null,
    claims: { sub: subject },
    ...over,
  };
}

export async function insertUser(ctx: Context, over: Partial<User> = {}): Promise<User> {
  const user = userRow(over, nowIn(ctx));
  await ctx.get(Database).run((manager) => manager.insert(User, user));
  return user;
}

/** Many users in one statement. */
export async function insertUsers(ctx: Context, n: number, over: (i: number) => Partial<User>): Promise<User[]> {
  const now = nowIn(ctx);
  const users = Array.from({ length: n }, (_, i) => userRow(over(i), now));
  await ctx.get(Database).run((manager) => manager.createQueryBuilder().insert().into(User).values(users).updateEntity(false).execute());
  return users;
}

export async function insertIdentity(ctx: Context, user: Pick<User, 'id'>, over: Partial<Identity> = {}): Promise<Identity> {
  const identity = identityRow(user.id, over, nowIn(ctx));
  await ctx.get(Database).run((manager) => manager.insert(Identity, identity));
  return identity;
}

/** A session of an existing user, started as the token endpoint starts one; returns its id and refresh token. */
export async function startSession(
  ctx: Context,
  user: Pick<User, 'id'>,
  opts: { identityId?: string | null; browserSessionId?: string | null } = {},
): Promise<{ sessionId: string; refreshToken: string }> {
  const issued = await ctx
    .get(SessionsService)
    .create(user.id, opts.identityId ?? null, { ip: null, userAgent: null }, opts.browserSessionId ?? null);
  return { sessionId: issued.session.id, refreshToken: issued.refreshToken };
}

/** A user with a session; returns the session's refresh token. */
export async function insertSession(ctx: Context, over: Partial<User> = {}): Promise<{ user: User; refreshToken: string }> {
  const user = await insertUser(ctx, over);
  const { refreshToken } = await startSession(ctx, user);
  return { user, refreshToken };
}
