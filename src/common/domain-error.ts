/**
 * Domain code throws these; DomainErrorFilter is the one place that turns a code into HTTP (a JSON error or, during a
 * browser sign-in, an error redirect). Codes follow RFC 6749 §5.2 and RFC 6750 §3.1 where those define one.
 */
export const ERROR_STATUS = {
  invalid_request: 400,
  invalid_grant: 400,
  unsupported_grant_type: 400,
  invalid_client: 401,
  unauthorized_client: 400,
  invalid_scope: 400,
  invalid_token: 401,
  forbidden: 403,
  account_disabled: 403,
  // Keycloak's code for an account link opened without the requester's own session at the service (SECURITY.md L1).
  not_logged_in: 403,
  not_found: 404,
  unknown_provider: 404,
  identity_already_linked: 409,
  last_identity: 409,
  last_admin: 409,
  conflict: 409,
  // What the body parser and the static files refuse, with their HTTP status and its name (as payload_too_large):
  // RFC 6749 has no code for them. Any other 4xx is answered as invalid_request.
  precondition_failed: 412,
  payload_too_large: 413,
  unsupported_media_type: 415,
  range_not_satisfiable: 416,
  rate_limited: 429,
  // Sign-in outcomes that only ever travel in an error redirect; the status applies if one is ever answered directly.
  invalid_state: 400,
  access_denied: 400,
  provider_error: 400,
  invalid_id_token: 400,
  /** A Microsoft account of a tenant MICROSOFT_TENANTS (or MICROSOFT_TENANT) does not admit. */
  tenant_not_allowed: 403,
  email_required: 400,
  provider_unavailable: 503,
  temporarily_unavailable: 503,
  server_error: 500,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

export class DomainError extends Error {
  override name = 'DomainError';
  /** When set, the filter answers with a 302 to this URL carrying `error` and `error_description`. */
  redirectTo?: string;
  /** Seconds, sent as Retry-After (429 and 503). */
  retryAfter?: string;

  constructor(
    readonly code: ErrorCode,
    readonly description: string,
    options?: { cause?: unknown },
  ) {
    super(`${code}: ${description}`, options);
  }

  get status(): number {
    return ERROR_STATUS[this.code];
  }

  redirectingTo(url: string): this {
    this.redirectTo = url;
    return this;
  }

  retryingAfter(seconds: string): this {
    this.retryAfter = seconds;
    return this;
  }
}
