// Reading express-session's signed cookie without Express: "s:" + ID + "." + HMAC.

import { createHmac, timingSafeEqual } from 'node:crypto';
import { parse } from 'cookie';

/**
 * The session ID from a Cookie header, or null if absent, malformed or wrongly signed.
 *
 * Accepts exactly what cookie-signature's `unsign` accepts: the value after "s:" must be
 * `sign(ID, secret)`, that is ID + "." + the unpadded base64 HMAC-SHA256 of ID. `unsign`
 * computes that HMAC and then two SHA-1 digests to compare; this runs on every
 * forward-auth request, so it computes the HMAC once and compares in constant time.
 */
export function sessionIdFromCookie(header: string | undefined, name: string, secret: string): string | null {
  if (!header || header.length > 8192) return null;
  let value: string | undefined;
  try {
    value = parse(header)[name];
  } catch {
    return null;
  }
  if (!value || !value.startsWith('s:')) return null;
  const dot = value.lastIndexOf('.');
  if (dot === -1) return null;
  const sid = value.slice(2, dot);
  const expected = Buffer.from(createHmac('sha256', secret).update(sid, 'utf8').digest('base64').replace(/=+$/, ''), 'utf8');
  const given = Buffer.from(value.slice(dot + 1), 'utf8');
  return given.length === expected.length && timingSafeEqual(given, expected) ? sid : null;
}
