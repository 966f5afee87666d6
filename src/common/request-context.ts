import type { Request } from 'express';
import type { RequestContext } from '../audit/audit.service.js';

/** The caller as recorded in sessions and audit events. `req.ip` honours Express's `trust proxy` setting only. */
export function requestContext(req: Request): RequestContext {
  const ua = req.headers['user-agent'];
  return { ip: req.ip ?? null, userAgent: typeof ua === 'string' ? ua.slice(0, 512) : null };
}
