import type { CookieOptions, Response } from 'express';
import { servedOverHttps, type AppConfig } from '../config/config.js';

/**
 * The attributes every cookie of ours carries, in one place. HttpOnly: no script of a page reads it. SameSite=Lax: it
 * comes along on the provider's top-level redirect back to us, not on cross-site subrequests (RFC 6265bis §8.8).
 * Path=/. Over https it is Secure and named `__Host-…`, which a browser keeps only when Secure, host-only and Path=/,
 * so no sibling subdomain can plant or shadow it (RFC 6265bis §4.1.3.2; SECURITY.md S3, L2).
 */
export class Cookies {
  private readonly secure: boolean;
  private readonly options: CookieOptions;

  constructor(config: Pick<AppConfig, 'publicUrl'>) {
    this.secure = servedOverHttps(config);
    this.options = { httpOnly: true, sameSite: 'lax', secure: this.secure, path: '/' };
  }

  /** The name a cookie goes by: `__Host-` prefixed on https. */
  name(base: string): string {
    return this.secure ? `__Host-${base}` : base;
  }

  set(res: Response, name: string, value: string, maxAgeMs: number): void {
    res.cookie(name, value, { ...this.options, maxAge: maxAgeMs });
  }

  /** A browser removes a cookie only when the clearing one has the same name, path and (for `__Host-`) Secure. */
  clear(res: Response, name: string): void {
    res.clearCookie(name, this.options);
  }
}
