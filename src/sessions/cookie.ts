// Reading express-session's signed cookie without Express: "s:" + ID + "." + HMAC.

import { parse } from 'cookie';
import signature from 'cookie-signature';

/** The session ID from a Cookie header, or null if absent, malformed or wrongly signed. */
export function sessionIdFromCookie(header: string | undefined, name: string, secret: string): string | null {
  if (!header || header.length > 8192) return null;
  let value: string | undefined;
  try {
    value = parse(header)[name];
  } catch {
    return null;
  }
  if (!value || !value.startsWith('s:')) return null;
  const sid = signature.unsign(value.slice(2), secret);
  return sid === false ? null : sid;
}
