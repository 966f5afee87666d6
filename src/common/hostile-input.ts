import type { RawBodyRequest } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import { DomainError } from './domain-error.js';
import { isFormBody } from './media-type.js';

/**
 * cookie-parser JSON-decodes every value that starts with `j:` ("JSON cookies"), so `sls_session=j:{}` would reach
 * code that reads a cookie as an object. None of our cookies is JSON (each is a sealed string): a value that did not
 * stay a string is not ours, and is dropped here, once for every reader, which then sees no cookie (SECURITY.md L2).
 */
export function stringCookiesOnly(req: Request, _res: Response, next: NextFunction): void {
  const cookies = req.cookies as Record<string, unknown> | undefined;
  if (cookies) for (const name of Object.keys(cookies)) if (typeof cookies[name] !== 'string') delete cookies[name];
  next();
}

/**
 * Far deeper than any body this service accepts (a flat object, some of whose fields are lists of strings), and far
 * shallower than the ~2,600 levels at which class-transformer's recursion overflows the stack (CWE-674).
 */
export const MAX_BODY_DEPTH = 32;

/**
 * Keys that reach or replace an object's prototype when some library merges or assigns them (prototype pollution,
 * OWASP Prototype Pollution Prevention Cheat Sheet). No request of ours has one: refused, not silently dropped.
 */
const PROTOTYPE_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

function keyProblem(keys: Iterable<string>): string | undefined {
  for (const key of keys) if (PROTOTYPE_KEYS.has(key)) return `the request body may not contain the key ${key}`;
  return undefined;
}

/** What is wrong with a parsed body, if anything. A loop, not recursion: the depth is what it checks. */
export function bodyProblem(body: unknown): string | undefined {
  const pending: [unknown, number][] = [[body, 1]];
  for (let next = pending.pop(); next; next = pending.pop()) {
    const [value, depth] = next;
    if (value === null || typeof value !== 'object') continue;
    if (depth > MAX_BODY_DEPTH) return `the request body is nested more than ${MAX_BODY_DEPTH} levels deep`;
    const keys = Object.keys(value);
    const problem = keyProblem(keys);
    if (problem) return problem;
    for (const key of keys) pending.push([(value as Record<string, unknown>)[key], depth + 1]);
  }
  return undefined;
}

/**
 * After the body parsers (JSON and form alike), before any guard, pipe or handler sees the body. A form is checked
 * twice: its keys as sent (from Nest's `rawBody`), because the form parser (qs) silently drops a `__proto__` key, and
 * its keys as parsed, because qs also reads keys that are not those bytes (`[constructor]` loses its brackets, a
 * leading byte order mark is dropped before it parses).
 */
export function refuseHostileBodies(req: RawBodyRequest<Request>, _res: Response, next: NextFunction): void {
  const form = isFormBody(req) ? req.rawBody : undefined;
  const problem = (form ? keyProblem(new URLSearchParams(form.toString('utf8')).keys()) : undefined) ?? bodyProblem(req.body);
  next(problem === undefined ? undefined : new DomainError('invalid_request', problem));
}
