import { appleProfile, nameFromUserField } from './apple.profile.js';

describe('Apple’s profile', () => {
  it.each([
    ['a first and last name', JSON.stringify({ name: { firstName: 'Ada', lastName: 'Lovelace' }, email: 'x@y.z' }), 'Ada Lovelace'],
    ['a first name only', JSON.stringify({ name: { firstName: ' Ada ' } }), 'Ada'],
    ['no name', JSON.stringify({ email: 'root@corp.test' }), null],
    ['not JSON', '{"name":', null],
    ['JSON null', 'null', null],
    ['names that are no strings', JSON.stringify({ name: { firstName: 1, lastName: { a: 1 } } }), null],
    ['no field', undefined, null],
    ['a repeated field', ['a', 'b'], null],
    ['a huge field', JSON.stringify({ name: { firstName: 'x'.repeat(5000) } }), null],
  ])('the user field with %s', (_why, user, name) => {
    expect(nameFromUserField(user)).toBe(name);
  });

  const token = { iss: 'https://appleid.apple.com', sub: '001234.abcd', aud: 'c', nonce: 'n', email: 'Ada@Example.test' };

  it('takes the email only from the ID token, never from the user field', () => {
    const p = appleProfile(
      'apple',
      { ...token, email_verified: 'true' },
      JSON.stringify({ name: { firstName: 'A' }, email: 'root@corp.test' }),
    );
    expect(p).toMatchObject({ subject: '001234.abcd', email: 'ada@example.test', emailVerified: true, name: 'A' });
    expect(p.claims).not.toHaveProperty('nonce');
  });

  it.each([
    ['true', true],
    [true, true],
    ['false', false],
    [false, false],
    ['yes', false],
    [undefined, false],
  ])('email_verified %p → %p', (v, expected) => {
    expect(appleProfile('apple', { ...token, email_verified: v }, undefined).emailVerified).toBe(expected);
  });

  it('a private relay address is kept, verified as Apple says, and marked never to link by email', () => {
    for (const [isPrivate, email] of [
      ['true', 'a1b2@privaterelay.appleid.com'],
      [true, 'a1b2@privaterelay.appleid.com'],
      [undefined, 'a1b2@privaterelay.appleid.com'],
    ] as const) {
      const p = appleProfile('apple', { ...token, email, email_verified: 'true', is_private_email: isPrivate }, undefined);
      expect(p).toMatchObject({ email, emailVerified: true, emailLinkable: false });
    }
    expect(appleProfile('apple', { ...token, email_verified: true, is_private_email: 'false' }, undefined).emailLinkable).toBe(true);
  });
});
