import { serialize, type CookieSerializeOptions } from 'cookie';
import type { ServerResponse } from 'node:http';
import { servedOverHttps, type AppConfig } from '../config/config.js';

/**
 * The response a cookie is set on: Node's own, which Express's response is, or a Fastify reply. The header is
 * serialized here, so no adapter's cookie plugin is needed and the bytes are the same on both (docs/fastify-trial.md,
 * step 1).
 */
export type CookieResponse = ServerResponse | { raw: ServerResponse; header(name: string, value: string): unknown };

/**
 * The attributes every cookie of ours carries, in one place. HttpOnly: no script of a page reads it. SameSite=Lax: it
 * comes along on the provider's top-level redirect back to us, not on cross-site subrequests (RFC 6265bis §8.8).
 * Path=/. Over https it is Secure and named `__Host-…`, which a browser keeps only when Secure, host-only and Path=/,
 * so no sibling subdomain can plant or shadow it (RFC 6265bis §4.1.3.2; SECURITY.md S3, L2).
 */
export class Cookies {
  private readonly secure: boolean;
  private readonly options: CookieSerializeOptions;

  constructor(config: Pick<AppConfig, 'publicUrl'>) {
    this.secure = servedOverHttps(config);
    this.options = { httpOnly: true, sameSite: 'lax', secure: this.secure, path: '/' };
  }

  /** The name a cookie goes by: `__Host-` prefixed on https. */
  name(base: string): string {
    return this.secure ? `__Host-${base}` : base;
  }

  /** Expires and Max-Age both, as Express's `res.cookie` writes them (Max-Age in whole seconds, RFC 6265 §5.2.2). */
  set(res: CookieResponse, name: string, value: string, maxAgeMs: number): void {
    append(res, serialize(name, value, { ...this.options, expires: new Date(Date.now() + maxAgeMs), maxAge: Math.floor(maxAgeMs / 1000) }));
  }

  /** A browser removes a cookie only when the clearing one has the same name, path and (for `__Host-`) Secure. */
  clear(res: CookieResponse, name: string): void {
    append(res, serialize(name, '', { ...this.options, expires: new Date(1) }));
  }
}

/**
 * On a Fastify reply through its own `header`, which appends Set-Cookie values: one set on `reply.raw` would be
 * replaced by any the reply sends itself (its writeHead wins over the raw response's headers; cookies.spec.ts).
 */
function append(res: CookieResponse, cookie: string): void {
  if ('raw' in res) res.header('set-cookie', cookie);
  else res.appendHeader('Set-Cookie', cookie);
}
