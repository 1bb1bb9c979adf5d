// Reading express-session's signed cookie ("s:" + ID + "." + HMAC) without Express, for the
// forward-auth hot path. A verified cookie value is remembered, so a busy session costs one
// HMAC (cookie-signature) and one SHA-256 once, not on every request.

import { parse } from 'cookie';
import signature from 'cookie-signature';
import { LRUCache } from 'lru-cache';
import { hashSessionId } from './store.js';

export interface SessionCookie {
  sid: string;
  /** SHA-256 of the ID: the session's key in the store. */
  hash: string;
}

const MAX_HEADER = 8192;

export class SessionCookieReader {
  /** Only correctly signed values are remembered: forged ones cannot fill this. */
  private readonly verified: LRUCache<string, SessionCookie>;

  constructor(
    private readonly secret: string,
    size = 10_000,
  ) {
    this.verified = new LRUCache({ max: Math.max(1, size) });
  }

  /** The session named by cookie `name` in a Cookie header, or null if absent or badly signed. */
  read(header: string | undefined, name: string): SessionCookie | null {
    if (!header || header.length > MAX_HEADER) return null;
    let value: string | undefined;
    try {
      value = parse(header)[name];
    } catch {
      return null;
    }
    if (!value || !value.startsWith('s:')) return null;
    const known = this.verified.get(value);
    if (known) return known;
    const sid = signature.unsign(value.slice(2), this.secret);
    if (sid === false) return null;
    const cookie = { sid, hash: hashSessionId(sid) };
    this.verified.set(value, cookie);
    return cookie;
  }
}
