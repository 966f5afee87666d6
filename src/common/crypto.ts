import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';

/** A fresh random value, base64url; 32 bytes = 256 bits (RFC 9700 §4.7: unguessable state, codes and tokens). */
export function randomToken(bytes = 32): string {
  return randomBytes(bytes).toString('base64url');
}

/**
 * Codes and refresh tokens are stored only as this hash. They are 256-bit random, so a plain SHA-256 is enough
 * (no salt or slow hash needed: there is nothing to guess) and lets the database look them up by equality.
 */
export function sha256(value: string): string {
  return createHash('sha256').update(value).digest('base64url');
}

export function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** One key per purpose from APP_SECRET (HKDF, RFC 5869), so a key used for cookies never encrypts signing keys. */
export function deriveKey(secret: string, purpose: string): Buffer {
  return Buffer.from(hkdfSync('sha256', secret, 'social-login-service', purpose, 32));
}

const VERSION = 'v1';

/** AES-256-GCM: confidentiality and integrity; `aad` binds the ciphertext to its context (e.g. a cookie's name). */
export function seal(key: Buffer, plaintext: string, aad = ''): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(aad));
  const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return [VERSION, iv.toString('base64url'), body.toString('base64url'), cipher.getAuthTag().toString('base64url')].join('.');
}

/** Returns undefined for anything not sealed by us with this key and aad: callers treat that as "absent". */
export function unseal(key: Buffer, sealed: string, aad = ''): string | undefined {
  const parts = sealed.split('.');
  if (parts.length !== 4 || parts[0] !== VERSION) return undefined;
  try {
    const [, iv, body, tag] = parts.map((p, i) => (i === 0 ? Buffer.alloc(0) : Buffer.from(p, 'base64url')));
    if (iv.length !== 12 || tag.length !== 16) return undefined;
    const decipher = createDecipheriv('aes-256-gcm', key, iv);
    decipher.setAAD(Buffer.from(aad));
    decipher.setAuthTag(tag);
    return Buffer.concat([decipher.update(body), decipher.final()]).toString('utf8');
  } catch {
    return undefined;
  }
}

/** The PKCE S256 challenge of a verifier: BASE64URL(SHA256(verifier)) (RFC 7636 §4.2), i.e. the same as `sha256`. */
export const pkceChallenge = sha256;
