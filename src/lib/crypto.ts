// Small wrappers over node:crypto used across domains: hashing secrets for storage, random
// tokens, comparing signed values.

import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** SHA-256 hex digest: how session IDs and one-time tokens are stored (never the raw value). */
export function sha256Hex(value: string): string {
  return createHash('sha256').update(value, 'utf8').digest('hex');
}

/** A URL-safe random token with `bytes` bytes of CSPRNG entropy. */
export function randomToken(bytes = 32): string {
  return randomBytes(bytes).toString('base64url');
}

/** String equality that takes the same time wherever the strings differ (signed tokens); a length difference is told at once. */
export function constantTimeEqual(a: string, b: string): boolean {
  const left = Buffer.from(a, 'utf8');
  const right = Buffer.from(b, 'utf8');
  return left.length === right.length && timingSafeEqual(left, right);
}
