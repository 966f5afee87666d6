import { MAX_CLAIM_DEPTH, storableClaims } from './storable-claims.js';

describe('storable claims', () => {
  it('keeps shallow claims as they are', () => {
    const claims = { sub: 'a', address: { street_address: 'x', country: 'y' }, groups: ['a', 'b'], n: 1, t: true, z: null };
    expect(storableClaims(claims)).toEqual(claims);
  });

  it('cuts nesting past MAX_CLAIM_DEPTH to null, so JSON.stringify never overflows the stack', () => {
    const text = `{"sub":"a","x":${'['.repeat(100_000)}${']'.repeat(100_000)}}`;
    const kept = storableClaims(JSON.parse(text));
    expect(() => JSON.stringify(kept)).not.toThrow();
    let v: unknown = kept.x;
    let depth = 1;
    while (Array.isArray(v)) [v, depth] = [v[0], depth + 1];
    expect(v).toBeNull();
    expect(depth).toBe(MAX_CLAIM_DEPTH);
  });

  it('keeps `__proto__` a plain own property, never the copy’s prototype', () => {
    const kept = storableClaims(JSON.parse('{"__proto__":{"admin":true},"constructor":{"prototype":{"x":1}}}'));
    expect(Object.getPrototypeOf(kept)).toBe(Object.prototype);
    expect((kept as { admin?: unknown }).admin).toBeUndefined();
    expect(Object.hasOwn(kept, '__proto__')).toBe(true);
    expect(({} as { admin?: unknown }).admin).toBeUndefined();
  });
});
