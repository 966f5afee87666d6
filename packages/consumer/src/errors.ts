export type AccessTokenErrorCode = 'invalid_token' | 'insufficient_scope' | 'temporarily_unavailable';

const STATUS: Record<AccessTokenErrorCode, number> = { invalid_token: 401, insufficient_scope: 403, temporarily_unavailable: 503 };

/** Why a request was refused, ready to send: status, RFC 6750 §3 `WWW-Authenticate`, and a JSON body. */
export class AccessTokenError extends Error {
  override name = 'AccessTokenError';

  constructor(
    readonly code: AccessTokenErrorCode,
    readonly description: string,
    options?: { cause?: unknown },
  ) {
    super(`${code}: ${description}`, options);
  }

  get status(): number {
    return STATUS[this.code];
  }

  get body(): { error: AccessTokenErrorCode; error_description: string } {
    return { error: this.code, error_description: this.description };
  }

  /** Bearer challenge for 401 and 403 (RFC 6750 §3); none for 503. */
  get wwwAuthenticate(): string | undefined {
    if (this.code === 'temporarily_unavailable') return undefined;
    return `Bearer error="${this.code}", error_description="${this.description.replace(/["\\]/g, '')}"`;
  }
}

/** RFC 6750 §2.1: the Authorization header only; tokens in query strings or bodies are never read. */
export function bearerToken(header: unknown): string | undefined {
  if (typeof header !== 'string') return undefined;
  return /^Bearer ([A-Za-z0-9._~+/-]+=*)$/i.exec(header)?.[1];
}

/** 403 unless the claims carry one of `roles` (none asked: anyone authenticated). */
export function checkRoles(claims: { roles: string[] }, roles: readonly string[]): void {
  if (roles.length && !roles.some((r) => claims.roles.includes(r))) {
    throw new AccessTokenError('insufficient_scope', `this needs the role ${roles.join(' or ')}`);
  }
}
