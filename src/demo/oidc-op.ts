import { generateKeyPairSync, randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import Provider, { type Adapter, type AdapterPayload, type ClientMetadata, type Configuration } from 'oidc-provider';
import { escapeHtml } from '../common/html.js';

/**
 * A real OpenID Provider (oidc-provider, OpenID-certified) with a one-field login form: "any username signs in".
 * It is the built-in demo provider and, configured differently, the stand-in for Google and company OPs in the tests.
 */
export interface OpClient {
  client_id: string;
  client_secret: string;
  redirect_uris: string[];
  /** How this client authenticates at the token endpoint; the OP refuses any other way. */
  token_endpoint_auth_method?: 'client_secret_basic' | 'client_secret_post';
  /** e.g. HS256: an ID token signed with the client secret (the service refuses those). */
  id_token_signed_response_alg?: ClientMetadata['id_token_signed_response_alg'];
}

export interface OpOptions {
  issuer: string;
  clients: OpClient[];
  /** Claims for an account; `sub` is the username typed into the form. */
  claimsFor: (sub: string) => Record<string, unknown>;
  title: string;
  /** A private JWK set; one RSA key is generated when omitted. */
  jwks?: { keys: Record<string, unknown>[] };
  pkceRequired?: boolean;
  /** Path of the UserInfo endpoint (Google's ends in /userinfo). */
  userinfoPath?: string;
  /** Put scope-requested claims into the ID token too (Google does), not only into UserInfo. */
  idTokenCarriesClaims?: boolean;
  /** The token endpoint authentication methods the OP accepts and lists in discovery; oidc-provider's by default. */
  clientAuthMethods?: Extract<Configuration['clientAuthMethods'], readonly unknown[]>;
  /** ID-token algorithms the OP may sign with; oidc-provider's asymmetric defaults unless a test wants HS256. */
  idTokenSigningAlgValues?: NonNullable<NonNullable<Configuration['enabledJWA']>['idTokenSigningAlgValues']>;
  /** Scopes and the claims each releases, when not the usual ones (Apple's stand-in: `name`, `is_private_email`). */
  claims?: Configuration['claims'];
}

export function generateSigningJwks(): { keys: Record<string, unknown>[] } {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { keys: [{ ...privateKey.export({ format: 'jwk' }), kid: randomBytes(8).toString('hex'), alg: 'RS256', use: 'sig' }] };
}

const USERNAME = /^[A-Za-z0-9._@+-]{1,64}$/;

export function createOp(options: OpOptions): Provider {
  const mountPath = new URL(options.issuer).pathname.replace(/\/$/, '');
  const configuration: Configuration = {
    clients: options.clients.map((c) => ({
      grant_types: ['authorization_code'],
      response_types: ['code'],
      // RFC 7591 §2's default, and what the service uses when a provider lists both (see tokenAuthMethod).
      token_endpoint_auth_method: 'client_secret_basic',
      ...c,
    })),
    ...(options.clientAuthMethods ? { clientAuthMethods: options.clientAuthMethods } : {}),
    ...(options.idTokenSigningAlgValues ? { enabledJWA: { idTokenSigningAlgValues: options.idTokenSigningAlgValues } } : {}),
    jwks: (options.jwks ?? generateSigningJwks()) as Configuration['jwks'],
    cookies: { keys: [randomBytes(32).toString('base64url')] },
    claims: options.claims ?? {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['name', 'given_name', 'family_name', 'picture'],
      groups: ['groups'],
    },
    conformIdTokenClaims: !options.idTokenCarriesClaims,
    features: { devInteractions: { enabled: false } },
    pkce: { required: () => options.pkceRequired ?? false },
    routes: options.userinfoPath ? { userinfo: options.userinfoPath } : undefined,
    interactions: { url: (_ctx, interaction) => `${mountPath}/interaction/${interaction.uid}` },
    // Explicit lifetimes (oidc-provider asks for them); short, as nothing here needs to last.
    ttl: { Interaction: 600, Session: 3600, Grant: 3600, AccessToken: 600, IdToken: 600, AuthorizationCode: 60 },
    adapter: MemoryAdapter,
    findAccount: (_ctx, sub) => ({ accountId: sub, claims: () => ({ ...options.claimsFor(sub), sub }) }),
  };
  const provider = new Provider(options.issuer, configuration);

  provider.use(async (ctx, next) => {
    const match = /^\/interaction\/([A-Za-z0-9_-]+)(\/login|\/abort)?$/.exec(ctx.path);
    if (!match) return next();
    const action = match[2];
    const details = await provider.interactionDetails(ctx.req, ctx.res);
    if (ctx.method === 'GET' && !action) {
      ctx.type = 'html';
      ctx.body = loginPage(options.title, `${mountPath}/interaction/${details.uid}`);
      return;
    }
    if (ctx.method !== 'POST' || !action) return next();
    if (action === '/abort') {
      const to = await provider.interactionResult(ctx.req, ctx.res, { error: 'access_denied', error_description: 'the user declined' });
      return ctx.redirect(to);
    }
    const form = new URLSearchParams(await readBody(ctx.req));
    const login = form.get('login') ?? '';
    if (!USERNAME.test(login)) {
      ctx.status = 400;
      ctx.type = 'html';
      ctx.body = loginPage(options.title, `${mountPath}/interaction/${details.uid}`, 'Use letters, digits and . _ @ + - (at most 64).');
      return;
    }
    const grant = new provider.Grant({ accountId: login, clientId: details.params.client_id as string });
    grant.addOIDCScope(String(details.params.scope ?? 'openid'));
    const grantId = await grant.save();
    const to = await provider.interactionResult(
      ctx.req,
      ctx.res,
      { login: { accountId: login }, consent: { grantId } },
      { mergeWithLastSubmission: false },
    );
    ctx.redirect(to);
  });
  return provider;
}

/**
 * oidc-provider's storage, in this process's memory: enough for the demo and the stand-ins (a restart forgets
 * half-finished demo sign-ins, nothing else). Saying so explicitly also replaces the library's start-up warning.
 */
class MemoryAdapter implements Adapter {
  private static readonly store = new Map<string, { payload: AdapterPayload; expiresAt: number }>();
  private static readonly byUid = new Map<string, string>();
  private static readonly byUserCode = new Map<string, string>();

  constructor(private readonly model: string) {}

  private key(id: string) {
    return `${this.model}:${id}`;
  }

  async upsert(id: string, payload: AdapterPayload, expiresIn: number): Promise<void> {
    const key = this.key(id);
    MemoryAdapter.store.set(key, { payload, expiresAt: Date.now() + expiresIn * 1000 });
    if (payload.uid) MemoryAdapter.byUid.set(payload.uid, key);
    if (payload.userCode) MemoryAdapter.byUserCode.set(payload.userCode, key);
    if (MemoryAdapter.store.size > 10_000) MemoryAdapter.sweep();
  }

  async find(id: string): Promise<AdapterPayload | undefined> {
    return MemoryAdapter.read(this.key(id));
  }

  async findByUid(uid: string): Promise<AdapterPayload | undefined> {
    const key = MemoryAdapter.byUid.get(uid);
    return key ? MemoryAdapter.read(key) : undefined;
  }

  async findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
    const key = MemoryAdapter.byUserCode.get(userCode);
    return key ? MemoryAdapter.read(key) : undefined;
  }

  async consume(id: string): Promise<void> {
    const entry = MemoryAdapter.store.get(this.key(id));
    if (entry) entry.payload.consumed = Math.floor(Date.now() / 1000);
  }

  async destroy(id: string): Promise<void> {
    MemoryAdapter.store.delete(this.key(id));
  }

  async revokeByGrantId(grantId: string): Promise<void> {
    for (const [key, entry] of MemoryAdapter.store) if (entry.payload.grantId === grantId) MemoryAdapter.store.delete(key);
  }

  private static read(key: string): AdapterPayload | undefined {
    const entry = MemoryAdapter.store.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt <= Date.now()) {
      MemoryAdapter.store.delete(key);
      return undefined;
    }
    return entry.payload;
  }

  private static sweep(): void {
    const now = Date.now();
    for (const [key, entry] of MemoryAdapter.store) if (entry.expiresAt <= now) MemoryAdapter.store.delete(key);
  }
}

async function readBody(req: IncomingMessage & { body?: unknown }): Promise<string> {
  // Mounted inside the service, Express's urlencoded parser has already read the form.
  if (req.body && typeof req.body === 'object') return new URLSearchParams(req.body as Record<string, string>).toString();
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > 8192) throw new Error('form too large');
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function loginPage(title: string, action: string, error?: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}: sign in</title>
<style>body{font:16px system-ui,sans-serif;max-width:26rem;margin:4rem auto;padding:0 1rem;color:#1a1a1a}
.note{background:#fff4ce;border:1px solid #e0c060;padding:.6rem .8rem;border-radius:6px}
label{display:block;margin:1.2rem 0 .3rem}input{font:inherit;padding:.5rem;width:100%;box-sizing:border-box}
button{font:inherit;margin-top:1rem;padding:.55rem 1.2rem;border-radius:6px;border:1px solid #1a1a1a;background:#1a1a1a;color:#fff}
button.secondary{background:#fff;color:#1a1a1a}.error{color:#a00}</style></head>
<body><h1>${escapeHtml(title)}</h1>
<p class="note">A demonstration identity provider: any username signs you in. Not for production.</p>
${error ? `<p class="error" role="alert">${escapeHtml(error)}</p>` : ''}
<form method="post" action="${escapeHtml(action)}/login">
<label for="login">Username</label><input id="login" name="login" autocomplete="username" required autofocus>
<button type="submit">Sign in</button></form>
<form method="post" action="${escapeHtml(action)}/abort"><button class="secondary" type="submit">Cancel</button></form>
</body></html>`;
}
