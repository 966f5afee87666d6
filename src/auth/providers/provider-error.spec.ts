import { AuthorizationError, InternalOAuthError, TokenError } from 'passport-oauth2';
import { DomainError } from '../../common/domain-error.js';
import { providerErrorDetails } from './provider-error.js';

describe('providerErrorDetails: the provider’s own error for the audit row', () => {
  it('takes the authorization error response from the callback query first', () => {
    expect(providerErrorDetails(new Error('x'), { error: 'access_denied', error_description: 'the user declined' })).toEqual({
      providerError: 'access_denied',
      providerErrorDescription: 'the user declined',
    });
    // Facebook's non-standard denial: error_code and error_message without error.
    expect(providerErrorDetails(undefined, { error_code: '1349003', error_message: 'Feature unavailable' })).toEqual({
      providerError: '1349003',
      providerErrorDescription: 'Feature unavailable',
    });
  });

  it('reads the libraries’ errors: token and authorization endpoint errors, HTTP errors with an RFC 6750 body', () => {
    expect(providerErrorDetails(new TokenError('client authentication failed', 'invalid_client'), {})).toEqual({
      providerError: 'invalid_client',
      providerErrorDescription: 'client authentication failed',
    });
    expect(providerErrorDetails(new AuthorizationError('try later', 'temporarily_unavailable', undefined as never), {})).toEqual({
      providerError: 'temporarily_unavailable',
      providerErrorDescription: 'try later',
    });
    const http = new InternalOAuthError('Failed to fetch user profile', {
      statusCode: 401,
      data: JSON.stringify({ error: 'invalid_token', error_description: 'the access token expired' }),
    });
    expect(providerErrorDetails(http, {})).toEqual({
      providerError: 'invalid_token',
      providerErrorDescription: 'the access token expired',
    });
  });

  it('follows a DomainError’s cause to a Graph error object', () => {
    const e = new DomainError('provider_error', 'Facebook answered with an error', {
      cause: { message: 'Unsupported get request.', type: 'GraphMethodException', code: 100 },
    });
    expect(providerErrorDetails(e, {})).toEqual({
      providerError: 'GraphMethodException',
      providerErrorDescription: 'Unsupported get request.',
    });
  });

  it('has nothing to say for our own errors and for network failures', () => {
    expect(providerErrorDetails(new DomainError('invalid_id_token', 'nonce does not match'), {})).toEqual({});
    expect(providerErrorDetails(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }), {})).toEqual({});
  });

  it('masks tokens and codes, drops control characters and bounds both fields', () => {
    const jwt = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhIn0.c2lnbmF0dXJl';
    const { providerError, providerErrorDescription } = providerErrorDetails(undefined, {
      error: 'e'.repeat(30) + ' ' + 'rror '.repeat(20),
      error_description: `token ${jwt} code a1b2c3d4e5f6g7h8i9j0k\r\nforged: line ${'y '.repeat(300)}`,
    });
    expect(providerError!.length).toBeLessThanOrEqual(64);
    expect(providerErrorDescription!.length).toBeLessThanOrEqual(256);
    expect(providerErrorDescription).toMatch(/^token \[redacted\] code \[redacted\] forged: line y y/);
    expect(providerErrorDescription).not.toMatch(/[\r\n]/);
  });

  it('keeps ordinary words, codes and short URLs', () => {
    expect(
      providerErrorDetails(undefined, {
        error: 'invalid_request',
        error_description: 'redirect_uri mismatch, see https://example.com/docs',
      }),
    ).toEqual({ providerError: 'invalid_request', providerErrorDescription: 'redirect_uri mismatch, see https://example.com/docs' });
  });
});
