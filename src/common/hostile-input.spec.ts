import { bodyProblem, MAX_BODY_DEPTH } from './hostile-input.js';

const nested = (levels: number, wrap: (inner: unknown) => unknown): unknown => {
  let value: unknown = 1;
  for (let i = 0; i < levels; i++) value = wrap(value);
  return value;
};

describe('bodyProblem', () => {
  it(`accepts bodies up to ${MAX_BODY_DEPTH} levels deep, objects and arrays alike, and refuses one level more`, () => {
    for (const wrap of [(v: unknown) => ({ a: v }), (v: unknown) => [v]]) {
      expect(bodyProblem(nested(MAX_BODY_DEPTH, wrap))).toBeUndefined();
      expect(bodyProblem(nested(MAX_BODY_DEPTH + 1, wrap))).toMatch(/nested more than 32 levels/);
    }
    // Far deeper than a recursive walk could go.
    expect(bodyProblem(nested(200_000, (v) => [v]))).toMatch(/nested/);
  });

  it('refuses __proto__, constructor and prototype as keys at any depth, not as values or parts of keys', () => {
    expect(bodyProblem(JSON.parse('{"a":[{"b":{"__proto__":{"admin":true}}}]}'))).toBe(
      'the request body may not contain the key __proto__',
    );
    expect(bodyProblem({ roles: ['user'], constructor: 1 })).toMatch(/key constructor$/);
    expect(bodyProblem([{ prototype: null }])).toMatch(/key prototype$/);
    expect(bodyProblem({ name: '__proto__', scope: ['constructor'], __proto__x: 1, my_prototype: 1 })).toBeUndefined();
  });

  it('accepts what is not an object', () => {
    for (const body of [undefined, null, 'x', 3, true]) expect(bodyProblem(body)).toBeUndefined();
  });
});
