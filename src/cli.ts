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
  clients:create <name> [roles] [scopes] [OAuth options]
                                create an API client (comma-separated roles and scopes); prints its secret once
  clients:list                  list API clients
  clients:show <client_id>      show one API client, with its OAuth metadata
  clients:update <client_id> [--name NAME] [--roles a,b] [--scopes a,b] [OAuth options but grant types and method]
                                change a client; a list option replaces the list (an empty value empties it)
  clients:disable <client_id>   refuse its new tokens and end the current ones
  clients:enable <client_id>    enable it again
  clients:rotate-secret <client_id> [grace seconds]  new secret; the old one works for the grace period (default CLIENT_SECRET_GRACE_PERIOD)
  clients:delete <client_id>    delete an API client (disabling or deleting one ends the sessions it holds for people)
OAuth options (OpenID Provider clients, RFC 7591 names):
  --redirect-uri URL            repeat for several; gives the authorization_code and refresh_token grants by default
  --post-logout-redirect-uri URL   repeat for several
  --grant-types a,b             authorization_code, refresh_token, client_credentials (create only)
  --token-endpoint-auth-method M   client_secret_basic (default), client_secret_post, none: a public client (create only)
  --backchannel-logout-uri URL
  --first-party [true|false]    no consent screen`;

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

/** `--name value`, `--name=value`, repeated options collected in order; a bare `--first-party` is "true". */
function options(args: string[], allowed: readonly string[]): { positional: string[]; opts: Map<string, string[]> } {
  const positional: string[] = [];
  const opts = new Map<string, string[]>();
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (!arg.startsWith('--')) {
      positional.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = arg.slice(2, eq < 0 ? undefined : eq);
    if (!allowed.includes(name)) throw new UsageError(`unknown option --${name}`);
    let value: string;
    if (eq >= 0) value = arg.slice(eq + 1);
    else if (name === 'first-party' && (args[i + 1] === undefined || !/^(true|false)$/.test(args[i + 1]))) value = 'true';
    else if (args[i + 1] === undefined) throw new UsageError(`--${name} needs a value`);
    else value = args[++i];
    opts.set(name, [...(opts.get(name) ?? []), value]);
  }
  return { positional, opts };
}

const OAUTH_OPTIONS = ['redirect-uri', 'post-logout-redirect-uri', 'backchannel-logout-uri', 'first-party'] as const;
const CREATE_OPTIONS = [...OAUTH_OPTIONS, 'grant-types', 'token-endpoint-auth-method'] as const;
const UPDATE_OPTIONS = [...OAUTH_OPTIONS, 'name', 'roles', 'scopes'] as const;

function single(opts: Map<string, string[]>, name: string): string | undefined {
  const values = opts.get(name);
  if (values && values.length > 1) throw new UsageError(`--${name} is given more than once`);
  return values?.[0];
}

function flag(opts: Map<string, string[]>, name: string): boolean | undefined {
  const v = single(opts, name);
  if (v === undefined) return undefined;
  if (v !== 'true' && v !== 'false') throw new UsageError(`--${name} is true or false`);
  return v === 'true';
}

/** The OAuth metadata options as ClientsService takes them (it checks the URIs and the combination). */
function oauthOptions(opts: Map<string, string[]>) {
  const uris = (name: string) => opts.get(name)?.filter(Boolean);
  const grantTypes = single(opts, 'grant-types');
  const logout = single(opts, 'backchannel-logout-uri');
  return {
    ...(opts.has('redirect-uri') ? { redirect_uris: uris('redirect-uri') } : {}),
    ...(opts.has('post-logout-redirect-uri') ? { post_logout_redirect_uris: uris('post-logout-redirect-uri') } : {}),
    ...(grantTypes !== undefined ? { grant_types: names(grantTypes, /^[a-z_]+$/, 'grant type') } : {}),
    ...(opts.has('token-endpoint-auth-method') ? { token_endpoint_auth_method: single(opts, 'token-endpoint-auth-method') } : {}),
    ...(logout !== undefined ? { backchannel_logout_uri: logout } : {}),
    ...(opts.has('first-party') ? { first_party: flag(opts, 'first-party') } : {}),
  };
}

/** Every field of a client, one `name: value` a line (clients:show, and after clients:create and clients:update). */
function showClient(c: ClientView): string {
  const list = (xs: string[]) => xs.join(' ') || '-';
  return [
    `client_id: ${c.client_id}`,
    `name: ${c.name}`,
    `status: ${c.disabled ? 'disabled' : 'active'}`,
    `roles: ${c.roles.join(',') || '-'}`,
    `scopes: ${list(c.scopes)}`,
    `grant_types: ${list(c.grant_types)}`,
    `token_endpoint_auth_method: ${c.token_endpoint_auth_method}`,
    `redirect_uris: ${list(c.redirect_uris)}`,
    `post_logout_redirect_uris: ${list(c.post_logout_redirect_uris)}`,
    `backchannel_logout_uri: ${c.backchannel_logout_uri ?? '-'}`,
    `first_party: ${c.first_party}`,
    `created_at: ${c.created_at}`,
    `secret_rotated_at: ${c.secret_rotated_at}`,
  ].join('\n');
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
  'clients:create': async (app, args) => {
    const { positional, opts } = options(args, CREATE_OPTIONS);
    const [name, roles, scopes] = positional;
    if (!name) throw new UsageError('give the client a name');
    const input = { name, roles: names(roles, ROLE_NAME, 'role'), scopes: names(scopes, SCOPE_TOKEN, 'scope'), ...oauthOptions(opts) };
    const c: ClientView & { client_secret?: string } = await app.get(ClientsService).create(input, CLI.actorId, CLI.ctx);
    // A public client (none) has no secret (shared/docs/http-api.md).
    const secret = c.client_secret ? `client_secret: ${c.client_secret}\n(the secret is shown this once)` : 'a public client: no secret';
    return `${describeClient(c)}\n${showClient(c)}\n${secret}`;
  },
  'clients:list': async (app) => (await app.get(ClientsService).list()).map(describeClient).join('\n') || 'no clients',
  'clients:show': async (app, [id]) => showClient(await app.get(ClientsService).get(clientId(id))),
  'clients:update': async (app, args) => {
    const { positional, opts } = options(args, UPDATE_OPTIONS);
    const { grant_types: _grants, token_endpoint_auth_method: _method, ...oauth } = oauthOptions(opts);
    const name = single(opts, 'name');
    const roles = single(opts, 'roles');
    const scopes = single(opts, 'scopes');
    const change = {
      ...oauth,
      ...(name !== undefined ? { name } : {}),
      ...(roles !== undefined ? { roles: names(roles, ROLE_NAME, 'role') } : {}),
      ...(scopes !== undefined ? { scopes: names(scopes, SCOPE_TOKEN, 'scope') } : {}),
    };
    if (!Object.keys(change).length) throw new UsageError('nothing to change (see the options of clients:update)');
    const c = await app.get(ClientsService).update(clientId(positional[0]), change, CLI.actorId, CLI.ctx);
    return showClient(c);
  },
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
