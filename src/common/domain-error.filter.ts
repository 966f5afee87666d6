import { Catch, HttpException, Logger, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import type { Response } from 'express';
import { withParams } from '../auth/return-url.js';
import { DomainError, type ErrorCode } from './domain-error.js';
import { isDatabaseUnavailable } from '../database/errors.js';

const CODE_FOR_STATUS: Record<number, ErrorCode> = {
  400: 'invalid_request',
  401: 'invalid_token',
  403: 'forbidden',
  404: 'not_found',
  409: 'conflict',
  413: 'payload_too_large',
  429: 'rate_limited',
  503: 'temporarily_unavailable',
};

/**
 * The one place errors become HTTP: `{ error, error_description }` with the code's status, a 302 error redirect
 * during a browser sign-in, and never a stack trace. Anything unexpected is logged and answered as server_error.
 */
@Catch()
export class DomainErrorFilter implements ExceptionFilter {
  private readonly logger = new Logger('Errors');

  catch(exception: unknown, host: ArgumentsHost): void {
    const res = host.switchToHttp().getResponse<Response>();
    if (res.headersSent) return;
    const error = this.toDomainError(exception);
    if (error.redirectTo) {
      res.setHeader('Cache-Control', 'no-store');
      res.redirect(302, withParams(error.redirectTo, { error: error.code, error_description: error.description }));
      return;
    }
    const retryAfter = error.retryAfter ?? (error.status === 503 ? '1' : undefined);
    if (retryAfter) res.setHeader('Retry-After', retryAfter);
    if (error.code === 'invalid_client') {
      // RFC 6749 §5.2: the scheme the client should authenticate with at the token endpoint.
      res.setHeader('WWW-Authenticate', 'Basic realm="token", charset="UTF-8"');
    } else if (error.status === 401) {
      // RFC 6750 §3: tell the client which scheme and why.
      res.setHeader('WWW-Authenticate', `Bearer error="${error.code === 'invalid_token' ? 'invalid_token' : 'invalid_request'}"`);
    }
    res.setHeader('Cache-Control', 'no-store');
    res.status(error.status).json({ error: error.code, error_description: error.description });
  }

  private toDomainError(exception: unknown): DomainError {
    if (exception instanceof DomainError) {
      if (exception.status >= 500)
        this.logger.error(exception.message, exception.cause instanceof Error ? exception.cause.stack : undefined);
      return exception;
    }
    if (exception instanceof HttpException) {
      const status = exception.getStatus();
      const code = CODE_FOR_STATUS[status];
      if (code) return new DomainError(code, describe(exception));
    }
    // body-parser errors (malformed JSON, body too large) carry their status but are not HttpExceptions.
    const status = (exception as { status?: unknown } | null)?.status;
    if (typeof status === 'number' && CODE_FOR_STATUS[status]) {
      return new DomainError(CODE_FOR_STATUS[status], status === 413 ? 'request body too large' : 'malformed request body');
    }
    if (isDatabaseUnavailable(exception)) {
      this.logger.warn(`database unavailable: ${(exception as Error).message}`);
      return new DomainError('temporarily_unavailable', 'the service cannot reach its database; try again shortly');
    }
    this.logger.error(exception instanceof Error ? (exception.stack ?? exception.message) : String(exception));
    return new DomainError('server_error', 'an unexpected error occurred');
  }
}

function describe(e: HttpException): string {
  const body = e.getResponse();
  if (typeof body === 'string') return body;
  const message = (body as { message?: unknown }).message;
  if (Array.isArray(message)) return message.join('; ');
  return typeof message === 'string' ? message : e.message;
}
