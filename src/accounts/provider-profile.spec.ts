import { DomainError } from '../common/domain-error.js';
import { emailOf, providerProfile, type ProviderProfile } from './provider-profile.js';

const fields = { provider: 'p', email: null, emailVerified: false, name: null, picture: null, claims: {} };

describe('providerProfile: the one subject rule for every provider', () => {
  it.each([
    ['missing', undefined],
    ['null', null],
    ['a number', 1234],
    ['an object', { id: '1' }],
    ['a list', ['1']],
    ['empty', ''],
    ['256 characters', 'x'.repeat(256)],
    ['a NUL', 'a\u0000b'],
    ['a newline', 'a\nb'],
    ['a DEL', 'a\u007fb'],
    ['a C1 control', 'a\u0085b'],
  ])('refuses a subject that is %s as provider_error', (_why, subject) => {
    expect(() => providerProfile({ ...fields, subject })).toThrow(DomainError);
    try {
      providerProfile({ ...fields, subject });
    } catch (e) {
      expect((e as DomainError).code).toBe('provider_error');
    }
  });

  it.each([['1'], ['x'.repeat(255)], ['auth0|5f7c8ec7c33c6c004bbafe82'], ['tenant:oid with spaces'], ['ünïcødé']])(
    'keeps %s as it is',
    (subject) => {
      expect(providerProfile({ ...fields, subject }).subject).toBe(subject);
    },
  );
});

describe('providerProfile: the other fields fit their columns, or are dropped', () => {
  const profile = (over: Partial<ProviderProfile>) => providerProfile({ ...fields, subject: 's', ...over });

  it('lower-cases emails in ASCII only: the Kelvin sign (U+212A) and a dotted capital I stay as they are', () => {
    expect(emailOf('Kate@Corp.TEST')).toBe('kate@corp.test');
    expect(emailOf('\u212Aate@corp.test')).toBe('\u212Aate@corp.test');
    expect(emailOf(`${'İ'.repeat(300)}@corp.test`)).toBe(`${'İ'.repeat(300)}@corp.test`);
  });

  it.each([
    ['a NUL', 'a\u0000b@corp.test'],
    ['a newline', 'a\n@corp.test'],
    ['a space', 'a b@corp.test'],
    ['no @', 'corp.test'],
    ['two @', 'a@b@corp.test'],
    ['no local part', '@corp.test'],
    ['no domain', 'a@'],
    ['more than 320 characters (never cut short: that could be another mailbox)', `${'a'.repeat(312)}@corp.test`],
    ['not a string', ['a@corp.test']],
  ])('drops an email with %s, and its verification with it', (_why, email) => {
    expect(profile({ email: email as string, emailVerified: true })).toMatchObject({ email: null, emailVerified: false });
  });

  it('keeps an email of exactly 320 characters', () => {
    const email = `${'a'.repeat(310)}@corp.test`;
    expect(profile({ email, emailVerified: true })).toMatchObject({ email, emailVerified: true });
  });

  it.each([
    ['a NUL', 'Bad\u0000Name'],
    ['a newline', 'Two\nLines'],
    ['a C1 control', 'a\u0085b'],
    ['nothing', ''],
  ])('drops a name or a picture with %s', (_why, text) => {
    expect(profile({ name: text, picture: text && `https://img.test/${text}` })).toMatchObject({ name: null, picture: null });
  });

  it('shortens a long name to its 200-character column, never halving an emoji; drops a picture URL over 2,048', () => {
    expect(profile({ name: 'n'.repeat(300) }).name).toBe('n'.repeat(200));
    expect(profile({ name: `${'n'.repeat(199)}😀` }).name).toBe('n'.repeat(199));
    const picture = `https://img.test/${'p'.repeat(2048 - 'https://img.test/'.length)}`;
    expect(profile({ picture }).picture).toBe(picture);
    expect(profile({ picture: `${picture}p` }).picture).toBeNull();
  });
});
