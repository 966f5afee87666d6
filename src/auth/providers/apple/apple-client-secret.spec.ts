import { generateKeyPairSync } from 'node:crypto';
import { decodeJwt, decodeProtectedHeader, jwtVerify } from 'jose';
import { Clock } from '../../../common/clock.js';
import {
  APPLE_SECRET_LIFETIME_S,
  APPLE_SECRET_MAX_LIFETIME_S,
  APPLE_SECRET_RENEW_BEFORE_S,
  AppleClientSecret,
} from './apple-client-secret.js';

class FixedClock extends Clock {
  constructor(public t: number) {
    super();
  }
  now(): number {
    return this.t;
  }
}

describe('Apple’s client secret', () => {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const cfg = {
    teamId: 'TEAM123456',
    keyId: 'KEY1234567',
    clientId: 'com.example.web',
    issuer: 'https://appleid.apple.com',
    privateKey: privateKey.export({ format: 'pem', type: 'pkcs8' }) as string,
  };

  it('is an ES256 JWT with kid, iss = team, sub = Services ID, aud = Apple, verifiable with the public key', async () => {
    const clock = new FixedClock(Date.UTC(2026, 11, 1));
    const jwt = await new AppleClientSecret(cfg, clock).current();
    expect(decodeProtectedHeader(jwt)).toEqual({ alg: 'ES256', kid: 'KEY1234567' });
    const { payload } = await jwtVerify(jwt, publicKey, {
      algorithms: ['ES256'],
      issuer: 'TEAM123456',
      subject: 'com.example.web',
      audience: 'https://appleid.apple.com',
      currentDate: new Date(clock.t),
    });
    expect(payload.iat).toBe(clock.t / 1000);
    expect(payload.exp! - payload.iat!).toBe(APPLE_SECRET_LIFETIME_S);
    expect(APPLE_SECRET_LIFETIME_S).toBeLessThanOrEqual(APPLE_SECRET_MAX_LIFETIME_S);
  });

  it('is signed once and reused, then renewed before it expires, never sent within an hour of its exp', async () => {
    const clock = new FixedClock(Date.UTC(2026, 11, 1));
    const secret = new AppleClientSecret(cfg, clock);
    const first = await secret.current();
    clock.t += (APPLE_SECRET_LIFETIME_S - APPLE_SECRET_RENEW_BEFORE_S - 1) * 1000;
    expect(await secret.current()).toBe(first);
    clock.t += 1000;
    const second = await secret.current();
    expect(second).not.toBe(first);
    expect(decodeJwt(second).exp! * 1000 - clock.t).toBe(APPLE_SECRET_LIFETIME_S * 1000);
  });
});
