import { resolveReturnTo, withParams } from './return-url.js';

const PUBLIC = 'https://login.example.com';
const FALLBACK = `${PUBLIC}/`;
const allowed = ['https://app.example.com', 'https://other.example.com/exact/callback', PUBLIC];
const resolve = (raw: unknown) => resolveReturnTo(raw, allowed, PUBLIC, FALLBACK);

describe('resolveReturnTo', () => {
  it.each([
    'https://app.example.com/',
    'https://app.example.com/deep/page?x=1',
    'https://other.example.com/exact/callback',
    'https://other.example.com/exact/callback?state=abc',
    'https://login.example.com/account',
  ])('keeps allowed %s', (url) => {
    expect(resolve(url)).toBe(new URL(url).href);
  });

  it('keeps a URL whose normalised form is exactly 2,048 characters, and not one character more', () => {
    const base = 'https://app.example.com/?q=';
    const fits = `${base}${'é'.repeat(336)}${'a'.repeat(2048 - base.length - 336 * 6)}`;
    expect(new URL(fits).href).toHaveLength(2048);
    expect(resolve(fits)).toBe(new URL(fits).href);
    expect(resolve(`${fits}x`)).toBe(FALLBACK);
  });

  it('resolves a relative path against PUBLIC_URL', () => {
    expect(resolve('/account')).toBe('https://login.example.com/account');
  });

  it.each([
    'https://evil.example',
    '//evil.example/x',
    '/\\evil.example/x',
    '\\\\evil.example',
    'javascript:alert(1)',
    'data:text/html,hi',
    'https://app.example.com.evil.example/',
    'https://app.example.com@evil.example/',
    'https://user:pw@app.example.com/',
    'http://app.example.com/',
    'https://other.example.com/exact/callback/more',
    'https://other.example.com/',
    `https://app.example.com/${'a'.repeat(3000)}`,
    // Within 2,048 characters as sent, over 11,000 once normalised (each é is percent-encoded as %C3%A9).
    `https://app.example.com/?q=${'é'.repeat(1970)}`,
    `https://app.example.com/${'é'.repeat(400)}`,
    '',
    undefined,
    ['https://app.example.com/'],
    { href: 'https://app.example.com/' },
  ])('falls back to the built-in page for %p', (raw) => {
    expect(resolve(raw)).toBe(FALLBACK);
  });
});

describe('withParams', () => {
  it('adds parameters, keeps the app’s own, drops any fragment', () => {
    expect(withParams('https://app.example.com/cb?tab=2#frag', { code: 'abc' })).toBe('https://app.example.com/cb?tab=2&code=abc');
  });
});
