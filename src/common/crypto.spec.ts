import { deriveKey, seal, unseal } from './crypto.js';

describe('seal / unseal (AES-256-GCM)', () => {
  const key = deriveKey('a-long-enough-application-secret-value', 'test');

  it('round-trips and binds the ciphertext to its context', () => {
    const sealed = seal(key, 'hello', 'cookie-a');
    expect(sealed).not.toContain('hello');
    expect(unseal(key, sealed, 'cookie-a')).toBe('hello');
    expect(unseal(key, sealed, 'cookie-b')).toBeUndefined();
  });

  it('refuses a changed byte, another key, and garbage', () => {
    const sealed = seal(key, 'hello');
    const parts = sealed.split('.');
    const body = Buffer.from(parts[2], 'base64url');
    body[0] ^= 1;
    parts[2] = body.toString('base64url');
    expect(unseal(key, parts.join('.'))).toBeUndefined();
    expect(unseal(deriveKey('a-long-enough-application-secret-value', 'other'), sealed)).toBeUndefined();
    for (const junk of ['', 'v1', 'v1.a.b.c', 'v2.x.y.z', '....']) expect(unseal(key, junk)).toBeUndefined();
  });

  it('derives different keys per purpose', () => {
    expect(deriveKey('s'.repeat(40), 'a').equals(deriveKey('s'.repeat(40), 'b'))).toBe(false);
  });
});
