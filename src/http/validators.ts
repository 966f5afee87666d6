import { applyDecorators, type PipeTransform } from '@nestjs/common';
import { ApiPropertyOptional } from '@nestjs/swagger';
import { ArrayMaxSize, IsArray, IsOptional, IsString, Matches, NotContains } from 'class-validator';
import { ROLE_NAME } from '../config/config.js';
import { DomainError } from '../common/domain-error.js';

/** RFC 6749 §3.3 scope-token: printable ASCII except space, `"` and `\`. */
export const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]{1,64}$/;

const nameList = (pattern: RegExp, message: string, description: string, example: string[]) =>
  applyDecorators(
    ApiPropertyOptional({ type: [String], description, example }),
    IsOptional(),
    IsArray(),
    ArrayMaxSize(32),
    IsString({ each: true }),
    Matches(pattern, { each: true, message }),
  );

/** An optional list of at most 32 role names (request bodies). */
export const RoleList = (description: string, example = ['reports']) =>
  nameList(ROLE_NAME, 'each role must be a name of letters, digits and . _ : -', description, example);

/** An optional list of at most 32 OAuth scopes (request bodies). */
export const ScopeList = (description: string, example = ['reports:read']) =>
  nameList(SCOPE_TOKEN, 'each scope must be 1–64 printable characters without spaces, " or \\', description, example);

/**
 * A query string that reaches the database as text: PostgreSQL refuses NUL (U+0000) in text values, which would be a
 * 500 there (and SQLite's full-text search chokes on it too), so it is a 400 before any query runs, on both.
 */
export const NoNul = (name: string) => NotContains('\u0000', { message: `${name} must not contain a NUL character` });

/**
 * C0, DEL and C1 control characters. Nothing a person names or a provider issues has them; they hide in logs and admin
 * views, and NUL is a 500 wherever it reaches a PostgreSQL text column.
 */
export const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f-\u009f]/;

/** A text field of a request body without control characters (NUL included: see NoNul), 400 otherwise. */
export const NoControlCharacters = (name: string) =>
  Matches(/^[^\u0000-\u001f\u007f-\u009f]*$/, { message: `${name} must not contain control characters` });

/**
 * A path id that cannot name anything (empty, longer than its column, control characters) is 404 before any query:
 * no row has it, and PostgreSQL would refuse a NUL in it with a 500.
 */
export class PathIdPipe implements PipeTransform<string, string> {
  constructor(
    private readonly maxLength: number,
    private readonly what: string,
  ) {}

  transform(value: string): string {
    if (value.length === 0 || value.length > this.maxLength || CONTROL_CHARACTERS.test(value))
      throw new DomainError('not_found', `no such ${this.what}`);
    return value;
  }
}
