import type { NextFunction, Request, Response } from 'express';

/**
 * cookie-parser JSON-decodes every value that starts with `j:` ("JSON cookies"), so `sls_session=j:{}` would reach
 * code that reads a cookie as an object. None of our cookies is JSON (each is a sealed string): a value that did not
 * stay a string is not ours, and is dropped here, once for every reader, which then sees no cookie (checklist L2).
 */
export function stringCookiesOnly(req: Request, _res: Response, next: NextFunction): void {
  const cookies = req.cookies as Record<string, unknown> | undefined;
  if (cookies) for (const name of Object.keys(cookies)) if (typeof cookies[name] !== 'string') delete cookies[name];
  next();
}
