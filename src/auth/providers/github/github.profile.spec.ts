import { DomainError } from '../../../common/domain-error.js';
import { chooseGithubEmail, githubProfile } from './github.profile.js';

const e = (email: string, primary: boolean, verified: boolean) => ({ email, primary, verified, visibility: null });

describe('chooseGithubEmail: the primary if verified, else the first verified one, else the primary as unverified', () => {
  it.each([
    ['a verified primary', [e('b@x.test', false, true), e('a@x.test', true, true)], { email: 'a@x.test', verified: true }],
    [
      'an unverified primary, a verified secondary',
      [e('a@x.test', true, false), e('b@x.test', false, true)],
      { email: 'b@x.test', verified: true },
    ],
    ['nothing verified', [e('b@x.test', false, false), e('a@x.test', true, false)], { email: 'a@x.test', verified: false }],
    ['no primary, nothing verified', [e('b@x.test', false, false)], null],
    ['an empty list', [], null],
    [
      '"true" as a string is not verified',
      [{ email: 'a@x.test', primary: true, verified: 'true' }],
      { email: 'a@x.test', verified: false },
    ],
    [
      'a primary that is no address is passed over',
      [e('not an address', true, true), e('b@x.test', false, true)],
      { email: 'b@x.test', verified: true },
    ],
  ])('%s', (_what, emails, expected) => {
    expect(chooseGithubEmail(emails)).toEqual(expected);
  });
});

describe('githubProfile', () => {
  it('the numeric id as decimal subject, the name or else the login', () => {
    const p = githubProfile({ id: 42, login: 'octo', name: null, avatar_url: 'https://a.test/42' }, [e('O@X.test', true, true)]);
    expect(p).toMatchObject({
      provider: 'github',
      subject: '42',
      email: 'o@x.test',
      emailVerified: true,
      name: 'octo',
      picture: 'https://a.test/42',
    });
  });

  it('without the emails list, the public email as unverified', () => {
    expect(githubProfile({ id: 1, login: 'a', email: 'pub@x.test' }, undefined)).toMatchObject({
      email: 'pub@x.test',
      emailVerified: false,
    });
  });

  it.each([[{ login: 'a' }], [{ id: '1' }], [{ id: 0 }], [{ id: 2 ** 53 }], [{ id: 1.5 }], [null], [[{ id: 1 }]]])(
    'refuses %j as provider_error',
    (user) => {
      expect(() => githubProfile(user, [])).toThrow(DomainError);
    },
  );
});
