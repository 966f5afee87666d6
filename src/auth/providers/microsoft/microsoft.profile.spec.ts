import { MICROSOFT_CONSUMERS_TENANT } from '../../../config/config.js';
import { microsoftIssuer, microsoftProfile, tenantRefusal } from './microsoft.profile.js';

const WORK = '72f988bf-86f1-41af-91ab-2d7cd011db47';
const OTHER = '11111111-2222-4333-8444-555555555555';

describe('Microsoft’s tenants', () => {
  it('fills the issuer template with the token’s tid', () => {
    expect(microsoftIssuer(WORK)).toBe(`https://login.microsoftonline.com/${WORK}/v2.0`);
  });

  it.each([
    ['common', [], WORK, null],
    ['common', [], MICROSOFT_CONSUMERS_TENANT, null],
    ['organizations', [], WORK, null],
    ['organizations', [], MICROSOFT_CONSUMERS_TENANT, 'work and school accounts only'],
    ['consumers', [], MICROSOFT_CONSUMERS_TENANT, null],
    ['consumers', [], WORK, 'personal accounts only'],
    [WORK, [], WORK, null],
    [WORK, [], OTHER, `admits only ${WORK}`],
    ['common', [WORK], WORK, null],
    ['common', [WORK], MICROSOFT_CONSUMERS_TENANT, 'not in MICROSOFT_TENANTS'],
    ['common', [WORK, MICROSOFT_CONSUMERS_TENANT], MICROSOFT_CONSUMERS_TENANT, null],
  ])('MICROSOFT_TENANT=%s, MICROSOFT_TENANTS=%j, tid %s → %s', (tenant, tenants, tid, refusal) => {
    const why = tenantRefusal({ tenant, tenants }, tid);
    if (refusal === null) expect(why).toBeNull();
    else expect(why).toContain(refusal);
  });
});

describe('Microsoft’s profile', () => {
  const token = { iss: microsoftIssuer(WORK), tid: WORK, oid: OTHER, sub: 'pairwise-sub', name: 'Ada', email: 'ada@corp.test' };

  it('keys the account by <tid>:<oid>, not the pairwise sub', () => {
    expect(microsoftProfile('microsoft', token).subject).toBe(`${WORK}:${OTHER}`);
  });

  it.each([
    [undefined, false],
    [false, false],
    [true, true],
    ['true', true],
    ['1', false],
    [1, false],
  ])('xms_edov %p → email verified %p', (xms, verified) => {
    expect(microsoftProfile('microsoft', { ...token, xms_edov: xms }).emailVerified).toBe(verified);
  });

  it.each([
    ['no oid', { oid: undefined }],
    ['an oid that is no GUID', { oid: '../x' }],
    ['a tid that is no GUID', { tid: 'common' }],
  ])('%s is the provider’s error', (_why, change) => {
    expect(() => microsoftProfile('microsoft', { ...token, ...change })).toThrow(/tenant id \(tid\) or object id \(oid\)/);
  });
});
