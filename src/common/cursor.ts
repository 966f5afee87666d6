import { DomainError } from './domain-error.js';

/**
 * The kinds of cursor field, each checked on the way back in:
 * - `integer`: a JSON number that is a non-negative safe integer (`1e400` parses to Infinity, `1.5` is no key);
 * - `integer-string`: the same as a decimal string (bigint ids, which node-pg returns as strings);
 * - `string`: 1–64 characters, no control characters (PostgreSQL refuses NUL in text: a 500, not a 400).
 */
type FieldKind = 'integer' | 'integer-string' | 'string';
type Decoded<S extends Record<string, FieldKind>> = { [K in keyof S]: S[K] extends 'integer' ? number : string };

const INTEGER_STRING = /^(0|[1-9][0-9]{0,15})$/;
const CONTROL = /[\u0000-\u001f\u007f]/;

const fits: Record<FieldKind, (v: unknown) => boolean> = {
  integer: (v) => Number.isSafeInteger(v) && (v as number) >= 0,
  'integer-string': (v) => typeof v === 'string' && INTEGER_STRING.test(v) && Number.isSafeInteger(Number(v)),
  string: (v) => typeof v === 'string' && v.length > 0 && v.length <= 64 && !CONTROL.test(v),
};

/** Opaque pagination cursors: base64url JSON, checked on the way back in (a bad one is a 400, never a 500). */
export function encodeCursor(value: Record<string, string | number>): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

/**
 * A cursor decodes into exactly the fields of `shape`, each of its kind: a key it does not name is refused, not
 * ignored, and what comes back is built from `shape` alone, so nothing a client adds to a cursor can reach a query
 * (as query-builder parameters, an extra `like` or `subject` would have overridden the search's own).
 */
export function decodeCursor<S extends Record<string, FieldKind>>(cursor: string | undefined, shape: S): Decoded<S> | undefined {
  if (cursor === undefined) return undefined;
  const refused = () => new DomainError('invalid_request', 'cursor is not one this service handed out');
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw refused();
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw refused();
  const fields = value as Record<string, unknown>;
  const keys = Object.keys(shape);
  if (Object.keys(fields).length !== keys.length) throw refused();
  for (const k of keys) if (!Object.hasOwn(fields, k) || !fits[shape[k]](fields[k])) throw refused();
  return Object.fromEntries(keys.map((k) => [k, fields[k]])) as Decoded<S>;
}

/** Escapes LIKE wildcards, with "!" as the ESCAPE character (the same on SQLite and PostgreSQL). */
export function likePattern(text: string): string {
  return `%${text.replace(/[!%_]/g, (c) => `!${c}`)}%`;
}
