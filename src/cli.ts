import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import type { INestApplicationContext } from '@nestjs/common';
import { AdminUsersService } from './admin/admin-users.service.js';
import type { User } from './accounts/user.entity.js';
import { UsersRepository } from './accounts/users.repository.js';
import { AppModule } from './app.module.js';
import { resolveAppSecret } from './config/app-secret.js';
import { ConfigError, loadConfig, ROLE_NAME } from './config/config.js';
import { SigningKeysService } from './tokens/signing-keys.service.js';
import { ClientsService, type ClientView } from './clients/clients.service.js';
import { SCOPE_TOKEN } from './http/validators.js';
import { lowerCaseAscii } from './common/email.js';

/**
 * Operator commands without a browser: `npm run cli -- <command> [args]`, with the service's own environment
 * (DATABASE_URL, APP_SECRET). Changes are audited with the actor "cli".
 */
const USAGE = `usage: npm run cli -- <command>
  users:list [query]            list users (newest first), optionally matching email, name or provider subject
  roles:grant <email|id> <role> give a role
  roles:revoke <email|id> <role> take a role away
  users:disable <email|id>      disable a user and end all their sessions
  users:enable <email|id>       enable a user again
  keys:rotate                   rotate the token-signing key now (every instance picks it up within a second)
  clients:create <name> [roles] [scopes]   create an API client (comma-separated roles and scopes); prints its secret once
  clients:list                  list API clients
  clients:show <client_id>      show one API client
  clients:disable <client_id>   refuse its new tokens and end the current ones
  clients:enable <client_id>    enable it again
  clients:rotate-secret <client_id> [grace seconds]  new secret; the old one works for the grace period (default CLIENT_SECRET_GRACE_PERIOD)
  clients:delete <client_id>    delete an API client`;

const CLI = { actorId: 'cli', ctx: { ip: null, userAgent: 'cli' } };

class UsageError extends Error {}

/** By id or email; emails are stored folded in ASCII only, so a look-alike address never finds another account. */
async function findUser(app: INestApplicationContext, who: string | undefined): Promise<User> {
  if (!who) throw new UsageError('name a user by email or id');
  const users = await app.get(UsersRepository).findByIdOrEmail(who);
  if (users.length === 0) throw new UsageError(`no user ${who}`);
  if (users.length > 1) throw new UsageError(`several accounts have the email ${who}; name one by id (users:list ${who})`);
  return users[0];
}

function role(name: string | undefined): string {
  if (!name || !ROLE_NAME.test(name)) throw new UsageError('name a role (letters, digits and . _ : -)');
  return name;
}

function names(csv: string | undefined, pattern: RegExp, what: string): string[] {
  const items = (csv ?? '')
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);
  const bad = items.find((x) => !pattern.test(x));
  if (bad) throw new UsageError(`not a valid ${what}: ${bad}`);
  return items;
}

function clientId(id: string | undefined): string {
  if (!id) throw new UsageError('name a client by its client_id (clients:list)');
  return id;
}

const describeClient = (c: ClientView) =>
  [c.client_id, c.name, c.roles.join(',') || '-', c.scopes.join(' ') || '-', c.disabled ? 'disabled' : 'active'].join('\t');

const COMMANDS: Record<string, (app: INestApplicationContext, args: string[]) => Promise<string>> = {
  'users:list': async (app, [query]) => {
    const { items } = await app.get(AdminUsersService).list(query, 100);
    return (
      items
        .map((u) => [u.id, u.email ?? '-', u.name ?? '-', u.roles.join(','), u.disabled ? 'disabled' : 'active'].join('\t'))
        .join('\n') || 'no users'
    );
  },
  'roles:grant': async (app, [who, name]) => {
    const user = await findUser(app, who);
    const roles = [...new Set([...user.roles, role(name)])];
    const after = await app.get(AdminUsersService).update(user.id, { roles }, CLI.actorId, CLI.ctx);
    return `${user.email ?? user.id}: roles ${after.roles.join(', ')}`;
  },
  'roles:revoke': async (app, [who, name]) => {
    const user = await findUser(app, who);
    const r = role(name);
    const after = await app.get(AdminUsersService).update(user.id, { roles: user.roles.filter((x) => x !== r) }, CLI.actorId, CLI.ctx);
    return `${user.email ?? user.id}: roles ${after.roles.join(', ')}${after.providerRoles.includes(r) ? ` (${r} still comes from a provider)` : ''}`;
  },
  'users:disable': async (app, [who]) => {
    const user = await findUser(app, who);
    await app.get(AdminUsersService).update(user.id, { disabled: true }, CLI.actorId, CLI.ctx);
    return `${user.email ?? user.id}: disabled, sessions ended`;
  },
  'users:enable': async (app, [who]) => {
    const user = await findUser(app, who);
    await app.get(AdminUsersService).update(user.id, { disabled: false }, CLI.actorId, CLI.ctx);
    return `${user.email ?? user.id}: enabled`;
  },
  'keys:rotate': async (app) => {
    const keys = app.get(SigningKeysService);
    await keys.rotate();
    return `signing key is now ${keys.signingKey().kid}; published: ${keys
      .jwks()
      .keys.map((k) => k.kid)
      .join(', ')}`;
  },
  'clients:create': async (app, [name, roles, scopes]) => {
    if (!name) throw new UsageError('give the client a name');
    const input = { name, roles: names(roles, ROLE_NAME, 'role'), scopes: names(scopes, SCOPE_TOKEN, 'scope') };
    const c = await app.get(ClientsService).create(input, CLI.actorId, CLI.ctx);
    return `${describeClient(c)}\nclient_id: ${c.client_id}\nclient_secret: ${c.client_secret}\n(the secret is shown this once)`;
  },
  'clients:list': async (app) => (await app.get(ClientsService).list()).map(describeClient).join('\n') || 'no clients',
  'clients:show': async (app, [id]) => describeClient(await app.get(ClientsService).get(clientId(id))),
  'clients:disable': async (app, [id]) =>
    describeClient(await app.get(ClientsService).update(clientId(id), { disabled: true }, CLI.actorId, CLI.ctx)),
  'clients:enable': async (app, [id]) =>
    describeClient(await app.get(ClientsService).update(clientId(id), { disabled: false }, CLI.actorId, CLI.ctx)),
  'clients:rotate-secret': async (app, [id, grace]) => {
    if (grace !== undefined && !/^\d{1,7}$/.test(grace)) throw new UsageError('the grace period is a number of seconds');
    const c = await app
      .get(ClientsService)
      .rotateSecret(clientId(id), grace === undefined ? undefined : Number(grace), CLI.actorId, CLI.ctx);
    const until = c.previous_secret_expires_at
      ? `the previous secret works until ${c.previous_secret_expires_at}`
      : 'the previous secret no longer works';
    return `client_secret: ${c.client_secret}\n${until}`;
  },
  'clients:delete': async (app, [id]) => {
    await app.get(ClientsService).remove(clientId(id), CLI.actorId, CLI.ctx);
    return `${id}: deleted`;
  },
};

async function main([command, ...args]: string[]): Promise<number> {
  const run = command ? COMMANDS[command] : undefined;
  if (!run) {
    process.stderr.write(`${USAGE}\n`);
    return 2;
  }
  // Provider settings are irrelevant here: no discovery requests, no demo provider.
  const config = resolveAppSecret({ ...loadConfig(process.env), providers: [], demoIdp: false }, (m) => process.stderr.write(`${m}\n`));
  const app = await NestFactory.createApplicationContext(AppModule.forRoot(config), { logger: ['error', 'warn'] });
  try {
    process.stdout.write(`${await run(app, args)}\n`);
    return 0;
  } catch (e) {
    if (e instanceof UsageError || (e as { code?: string }).code) {
      process.stderr.write(`${(e as Error).message}\n`);
      return 1;
    }
    throw e;
  } finally {
    await app.close();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: Error) => {
    process.stderr.write(`${e instanceof ConfigError ? e.message : (e.stack ?? e.message)}\n`);
    process.exit(1);
  },
);
