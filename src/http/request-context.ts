import type { Request } from 'express';
import { isIP } from 'node:net';

/** sessions.ip and audit_events.ip are varchar(64): an IPv6 address with an IPv4 tail is 45 characters. */
const MAX_IP_LENGTH = 64;

/**
 * The client's address, or null when it is not one. `req.ip` honours Express's `trust proxy` setting only; behind a
 * trusted proxy it is whatever X-Forwarded-For says, which a client can fill with any text. Such text is null, not
 * truncated: a cut or invented value names nobody, would mislead the audit trail, and as a rate-limit key would give
 * each made-up value a fresh allowance (null shares one "unknown" bucket).
 */
export function clientIp(req: Request): string | null {
  const ip = req.ip;
  return ip && ip.length <= MAX_IP_LENGTH && isIP(ip) !== 0 ? ip : null;
}

/** Who made the request: recorded with every event it causes (audit) and with the sessions it starts. */
export interface RequestContext {
  ip: string | null;
  userAgent: string | null;
}

/** The caller as recorded in sessions and audit events. */
export function requestContext(req: Request): RequestContext {
  const ua = req.headers['user-agent'];
  return { ip: clientIp(req), userAgent: typeof ua === 'string' ? ua.slice(0, 512) : null };
}
