import { Catch, HttpException, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { STATUS_CODES } from 'node:http';
import { withParams } from './return-url.js';
import { DomainError, type ErrorCode } from '../common/domain-error.js';
import { isDatabaseUnavailable } from '../database/errors.js';

/** What the filter leaves on the response for the request's log line (a 5xx's cause; `observeRequests` writes it). */
export const RESPONSE_ERROR = Symbol('responseError');
/** What it leaves instead for a 503 (the database or a provider unavailable): an outage, not a bug. */
export const RESPONSE_OUTAGE = Symbol('responseOutage');
export interface ResponseOutage {
  code: string;
  cause: unknown;
}

const CODE_FOR_STATUS: Record<number, ErrorCode> = {
  400: 'invalid_request',
  401: 'invalid_token',
  403: 'forbidden',
  404: 'not_found',
  409: 'conflict',
  412: 'precondition_failed',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
  416: 'range_not_satisfiable',
  429: 'rate_limited',
  503: 'temporarily_unavailable',
};

/**
 * The one place errors become HTTP: `{ error, error_description }` with the code's status, a 302 error redirect
 * during a browser sign-in, and never a stack trace. Anything unexpected is answered as server_error, and its cause
 * goes into the request's log line (`observeRequests`); an outage's cause (503) into its throttled warning there.
 */
@Catch()
export class DomainErrorFilter implements ExceptionFilter {
  constructor(private readonly adapterHost: HttpAdapterHost) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    // Through Nest's adapter-neutral response API, as every answer of ours (docs/fastify-trial.md, step 1).
    const http = this.adapterHost.httpAdapter;
    const res = host.switchToHttp().getResponse<object>();
    if (http.isHeadersSent(res)) return;
    const error = toDomainError(exception);
    if (error.status >= 500) {
      const cause = exception instanceof DomainError && exception.cause ? exception.cause : exception;
      // On Node's response, where the observer reads it: Express's response is Node's, Fastify's reply wraps it.
      const observed = ('raw' in res ? res.raw : res) as { [RESPONSE_ERROR]?: unknown; [RESPONSE_OUTAGE]?: ResponseOutage };
      // A 503 is an outage (the database, a provider): expected while it lasts, logged as a throttled warning.
      if (error.status === 503) observed[RESPONSE_OUTAGE] = { code: error.code, cause };
      else observed[RESPONSE_ERROR] = cause;
    }
    if (error.redirectTo) {
      http.setHeader(res, 'Cache-Control', 'no-store');
      http.redirect(res, 302, withParams(error.redirectTo, { error: error.code, error_description: error.description }));
      return;
    }
    // RFC 9110 §15.5.17: a 416 says how long the representation is (Fastify's static files put it on their error).
    const source = exception instanceof HttpException && exception.cause ? exception.cause : exception;
    const contentRange = (source as { headers?: Record<string, unknown> } | null)?.headers?.['Content-Range'];
    if (error.status === 416 && typeof contentRange === 'string') http.setHeader(res, 'Content-Range', contentRange);
    const retryAfter = error.retryAfter ?? (error.status === 503 ? '1' : undefined);
    if (retryAfter) http.setHeader(res, 'Retry-After', retryAfter);
    if (error.code === 'invalid_client') {
      // RFC 6749 §5.2: the scheme the client should authenticate with at the token endpoint.
      http.setHeader(res, 'WWW-Authenticate', 'Basic realm="token", charset="UTF-8"');
    } else if (error.status === 401) {
      // RFC 6750 §3: tell the client which scheme and why.
      http.setHeader(res, 'WWW-Authenticate', `Bearer error="${error.code === 'invalid_token' ? 'invalid_token' : 'invalid_request'}"`);
    }
    http.setHeader(res, 'Cache-Control', 'no-store');
    http.reply(res, { error: error.code, error_description: error.description }, error.status);
  }
}

const BODY_ERRORS: Record<number, string> = { 400: 'malformed request body', 413: 'request body too large' };

/**
 * The code for an HTTP status: every 4xx is the client's (a bad body, a charset or encoding the parser refuses, a
 * failed precondition or range on a static file), so it stays a 4xx, never a 500 (docs/http-api.md).
 */
function codeForStatus(status: number): ErrorCode | undefined {
  return CODE_FOR_STATUS[status] ?? (status >= 400 && status < 500 ? 'invalid_request' : undefined);
}

function toDomainError(exception: unknown): DomainError {
  if (exception instanceof DomainError) return exception;
  if (exception instanceof HttpException) {
    const code = codeForStatus(exception.getStatus());
    if (code) return new DomainError(code, describe(exception));
  }
  // body-parser and serve-static errors (http-errors) carry their status but are not HttpExceptions, nor are
  // Fastify's (its body parsers', its static files'), which call it statusCode. Their messages can quote the body, so
  // the description is the status's own.
  const status = (exception as { status?: unknown } | null)?.status ?? (exception as { statusCode?: unknown } | null)?.statusCode;
  const code = typeof status === 'number' ? codeForStatus(status) : undefined;
  if (code) {
    return new DomainError(code, BODY_ERRORS[status as number] ?? (STATUS_CODES[status as number] ?? 'bad request').toLowerCase());
  }
  if (isDatabaseUnavailable(exception)) {
    return new DomainError('temporarily_unavailable', 'the database cannot serve this request right now; try again shortly');
  }
  return new DomainError('server_error', 'an unexpected error occurred');
}

function describe(e: HttpException): string {
  const body = e.getResponse();
  if (typeof body === 'string') return body;
  const message = (body as { message?: unknown }).message;
  if (Array.isArray(message)) return message.join('; ');
  return typeof message === 'string' ? message : e.message;
}
