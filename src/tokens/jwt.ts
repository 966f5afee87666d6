import { sign as cryptoSign, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import type { JwtAlg } from '../config/config.js';

/*
 * Compact JWS with node:crypto, synchronously: the guard verifies on every request, and jose's async verify costs
 * several times the throughput of the endpoint it protects. Only the three algorithms we issue (`JwtAlg`) have a
 * branch below, so an `alg` outside them (`none`, HS256 …) can never select a verification path (RFC 8725 §3.1).
 */

const b64 = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** The digest and key options node:crypto needs for each algorithm. */
function signingParams(alg: JwtAlg, key: KeyObject): [string | null, KeyObject | { key: KeyObject; dsaEncoding: 'ieee-p1363' }] {
  switch (alg) {
    case 'RS256':
      return ['sha256', key];
    case 'ES256':
      // JWS uses the raw r||s form, not DER (RFC 7518 §3.4).
      return ['sha256', { key, dsaEncoding: 'ieee-p1363' }];
    case 'EdDSA':
      return [null, key];
  }
}

function verifyBytes(alg: JwtAlg, data: Buffer, key: KeyObject, signature: Buffer): boolean {
  switch (alg) {
    case 'RS256':
      return cryptoVerify('sha256', data, key, signature);
    case 'ES256':
      return cryptoVerify('sha256', data, { key, dsaEncoding: 'ieee-p1363' }, signature);
    case 'EdDSA':
      return cryptoVerify(null, data, key, signature);
  }
}

type JwsHeader = { alg: JwtAlg; kid: string; typ: string };

export function signJwt(header: JwsHeader, payload: object, key: KeyObject): string {
  const input = `${b64(header)}.${b64(payload)}`;
  const [digest, signingKey] = signingParams(header.alg, key);
  return `${input}.${cryptoSign(digest, Buffer.from(input), signingKey).toString('base64url')}`;
}

/**
 * The same, signed on libuv's thread pool (node:crypto's callback form): an RS256 signature costs about 0.3 ms of
 * CPU, which would otherwise block the event loop on every token issued.
 */
export function signJwtOffThread(header: JwsHeader, payload: object, key: KeyObject): Promise<string> {
  const input = `${b64(header)}.${b64(payload)}`;
  const [digest, signingKey] = signingParams(header.alg, key);
  return new Promise((resolve, reject) =>
    cryptoSign(digest, Buffer.from(input), signingKey, (err, signature) =>
      err ? reject(err) : resolve(`${input}.${signature.toString('base64url')}`),
    ),
  );
}

export interface DecodedJws {
  header: Record<string, unknown>;
  signingInput: Buffer;
  payloadSegment: string;
  signature: Buffer;
}

/** Splits a compact JWS; undefined for anything that is not three base64url segments with a JSON object header. */
export function decodeJws(token: string): DecodedJws | undefined {
  const first = token.indexOf('.');
  const second = token.indexOf('.', first + 1);
  if (first <= 0 || second <= first + 1 || second === token.length - 1 || token.indexOf('.', second + 1) !== -1) return undefined;
  const header = parseJsonObject(token.slice(0, first));
  if (!header) return undefined;
  return {
    header,
    signingInput: Buffer.from(token.slice(0, second)),
    payloadSegment: token.slice(first + 1, second),
    signature: Buffer.from(token.slice(second + 1), 'base64url'),
  };
}

export function verifySignature(alg: JwtAlg, jws: DecodedJws, key: KeyObject): boolean {
  try {
    return verifyBytes(alg, jws.signingInput, key, jws.signature);
  } catch {
    return false;
  }
}

export function parseJsonObject(segment: string): Record<string, unknown> | undefined {
  if (!/^[A-Za-z0-9_-]+$/.test(segment)) return undefined;
  try {
    const value: unknown = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
