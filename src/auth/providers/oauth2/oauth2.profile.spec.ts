import { DomainError } from '../../../common/domain-error.js';
import { oauth2Profile, valueAt } from './oauth2.profile.js';

const fields = { subject: ['user', 'id'], email: ['user', 'email'], name: ['user', 'name'], picture: ['avatar'] };

describe('valueAt', () => {
  it('walks own properties only', () => {
    expect(valueAt({ a: { b: 1 } }, ['a', 'b'])).toBe(1);
    expect(valueAt({ a: 1 }, ['a', 'b'])).toBeUndefined();
    expect(valueAt({}, ['toString'])).toBeUndefined();
    expect(valueAt({ a: [1] }, ['a', '0'])).toBeUndefined();
  });
});

describe('oauth2Profile', () => {
  it('maps the fields; a number subject becomes its decimal digits', () => {
    const p = oauth2Profile('gitlab', fields, {
      user: { id: 123, email: 'A@x.test', name: 'A', verified: true },
      avatar: 'https://a.test/1',
    });
    expect(p).toMatchObject({
      provider: 'gitlab',
      subject: '123',
      email: 'a@x.test',
      emailVerified: false,
      name: 'A',
      picture: 'https://a.test/1',
    });
  });

  it('an email is verified only through a mapped field that says true', () => {
    const info = { user: { id: 'x', email: 'a@x.test', verified: true, email_verified: true } };
    expect(oauth2Profile('p', fields, info).emailVerified).toBe(false);
    expect(oauth2Profile('p', { ...fields, emailVerified: ['user', 'verified'] }, info).emailVerified).toBe(true);
    expect(
      oauth2Profile('p', { ...fields, emailVerified: ['user', 'verified'] }, { user: { id: 'x', email: 'a@x.test', verified: 'yes' } })
        .emailVerified,
    ).toBe(false);
  });

  it('keeps a picture only when it is an http(s) URL', () => {
    const pic = (avatar: unknown) => oauth2Profile('p', fields, { user: { id: 'x' }, avatar }).picture;
    expect(pic('https://cdn.test/a.png')).toBe('https://cdn.test/a.png');
    expect(pic('a_1269e74af4df7417b13759eae50c83dc')).toBeNull();
    expect(pic('javascript:alert(1)')).toBeNull();
    expect(pic('data:image/png;base64,AAAA')).toBeNull();
  });

  it.each([[{ user: {} }], [{ user: { id: 2 ** 53 + 2 } }], [{ user: { id: 0.5 } }], [{ user: { id: true } }], [null], [[]]])(
    'refuses %j as provider_error',
    (info) => {
      expect(() => oauth2Profile('p', fields, info)).toThrow(DomainError);
    },
  );
});
