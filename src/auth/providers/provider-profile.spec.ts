import { DomainError } from '../../common/domain-error.js';
import { providerProfile } from './provider-profile.js';

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
