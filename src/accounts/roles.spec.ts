import { mapProviderRoles, rolesAfterSignIn, sameRoles } from './roles.js';
import { effectiveRoles } from '../tokens/token-roles.js';

describe('roles', () => {
  it('grants admin from ADMIN_EMAILS only for a verified email, and keeps assigned roles', () => {
    expect(rolesAfterSignIn([], 'boss@x.test', true, ['boss@x.test'])).toEqual(['user', 'admin']);
    expect(rolesAfterSignIn([], 'boss@x.test', false, ['boss@x.test'])).toEqual(['user']);
    expect(rolesAfterSignIn(['user', 'editor'], 'a@x.test', true, [])).toEqual(['user', 'editor']);
  });

  it('compares ADMIN_EMAILS with ASCII-only case folding: a Kelvin sign (U+212A) is not a k', () => {
    expect(rolesAfterSignIn([], 'KATE@X.test', true, ['kate@x.test'])).toEqual(['user', 'admin']);
    expect(rolesAfterSignIn([], '\u212Aate@x.test', true, ['kate@x.test'])).toEqual(['user']);
    expect(rolesAfterSignIn([], 'kate@x.test', true, ['\u212Aate@x.test'])).toEqual(['user']);
  });

  it('maps provider claim values through the role map, or takes valid names as they are', () => {
    const map = { 'cn=ops,dc=corp': ['admin'], devs: ['developer', 'reader'] };
    expect(mapProviderRoles(['devs', 'cn=ops,dc=corp', 'other'], map)).toEqual(['developer', 'reader', 'admin']);
    expect(mapProviderRoles(['other'], map)).toEqual([]);
    expect(mapProviderRoles(['editor', 'bad role!', 'editor'], undefined)).toEqual(['editor']);
  });

  it('combines assigned and provider roles without duplicates', () => {
    expect(effectiveRoles({ roles: ['user', 'admin'], providerRoles: ['admin', 'developer'] })).toEqual(['user', 'admin', 'developer']);
  });

  it('tells a change of roles from the same roles in another order', () => {
    expect(sameRoles(['user', 'admin'], ['admin', 'user'])).toBe(true);
    expect(sameRoles([], [])).toBe(true);
    expect(sameRoles(['user'], ['user', 'admin'])).toBe(false);
    expect(sameRoles(['user', 'editor'], ['user', 'admin'])).toBe(false);
    // Not a text comparison of the joined lists.
    expect(sameRoles(['a', 'b'], ['a\nb'])).toBe(false);
  });
});
