import { generateKeyPairSync } from 'node:crypto';
import { decodeJwt, decodeProtectedHeader, importJWK, SignJWT } from 'jose';

/** What a broken or hostile provider (or whoever sits on the path to its token endpoint) does to an ID token. */
export interface IdTokenTamper {
  /** The claims changed, then signed again with the provider's own key (so only the claim checks can catch it). */
  claims?: (claims: Record<string, unknown>) => Record<string, unknown>;
  /** `none`: unsigned (`alg: none`); `other-key`: signed by a key that is not in the provider's JWKS. */
  signature?: 'none' | 'other-key';
}

const otherKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;

/** The ID token as the tamper says, signed with `jwk` (the provider's private key) unless it says otherwise. */
export async function tamperIdToken(idToken: string, jwk: Record<string, unknown>, tamper: IdTokenTamper): Promise<string> {
  const claims = (tamper.claims ?? ((c) => c))({ ...decodeJwt(idToken) });
  const header = decodeProtectedHeader(idToken);
  if (tamper.signature === 'none') {
    const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
    return `${b64({ alg: 'none', typ: 'JWT' })}.${b64(claims)}.`;
  }
  const key = tamper.signature === 'other-key' ? otherKey : await importJWK(jwk as never, 'RS256');
  return new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid: header.kid }).sign(key);
}
