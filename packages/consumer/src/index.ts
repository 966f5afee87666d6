export { AccessTokenVerifier, createVerifier, type AccessTokenClaims, type ConsumerOptions } from './verifier.js';
export { AccessTokenError, bearerToken, checkRoles, type AccessTokenErrorCode } from './errors.js';
