import { DomainError } from './domain-error.js';

/** Opaque pagination cursors: base64url JSON, checked on the way back in (a bad one is a 400, never a 500). */
export function encodeCursor(value: Record<string, string | number>): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

export function decodeCursor<T extends Record<string, string | number>>(
  cursor: string | undefined,
  shape: { [K in keyof T]: 'string' | 'number' },
): T | undefined {
  if (cursor === undefined) return undefined;
  try {
    const value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as Record<string, unknown>;
    for (const [k, type] of Object.entries(shape)) if (typeof value[k] !== type) throw new Error(k);
    return value as T;
  } catch {
    throw new DomainError('invalid_request', 'cursor is not one this service handed out');
  }
}

/** Escapes LIKE wildcards, with "!" as the ESCAPE character (the same on SQLite and PostgreSQL). */
export function likePattern(text: string): string {
  return `%${text.replace(/[!%_]/g, (c) => `!${c}`)}%`;
}
