// The session cookies' names, the forward-auth cookie's value, and reading that cookie
// without Express, for the forward-auth hot path. Its value is a 256-bit keyed derivation of
// the session ID (set by src/http/session.ts); the store knows it by its SHA-256 only. A
// value already seen with a live session is remembered, so a busy session costs one SHA-256
// once, not on every request.

import { createHmac } from 'node:crypto';
import { parse } from 'cookie';
import { LRUCache } from 'lru-cache';
import type { Config } from '../config/schema.js';
import { sha256Hex } from '../lib/crypto.js';

export interface CookieNames {
  /** The portal cookie over HTTPS (host-only). */
  secure: string;
  /** The portal cookie over plain HTTP. */
  plain: string;
  /** The forward-auth cookie over HTTPS and over plain HTTP. */
  forwardSecure: string;
  forwardPlain: string;
}

/** The cookie names for session.name and session.cookie_domain. */
export function cookieNames(section: Pick<Config['session'], 'name' | 'cookie_domain'>): CookieNames {
  const { name, cookie_domain } = section;
  return {
    secure: `__Host-${name}`,
    plain: name,
    // A cookie with a Domain attribute cannot be __Host-: __Secure- is the documented exception.
    forwardSecure: `${cookie_domain ? '__Secure-' : '__Host-'}${name}_forward`,
    forwardPlain: `${name}_forward`,
  };
}

/** The forward-auth cookie's value for a session ID: 256 bits, useless without the key. */
export function forwardToken(cookieSecret: string, sid: string): string {
  return createHmac('sha256', cookieSecret).update(`gatehouse forward-auth cookie\0${sid}`).digest('base64url');
}

/** How the forward-auth cookie is stored and looked up (never the value itself). */
export const forwardHashOf = (token: string): string => sha256Hex(token);

export interface ForwardCookie {
  token: string;
  /** SHA-256 of the value: the session's forward hash in the store. */
  hash: string;
}

const MAX_HEADER = 8192;
/** 32 bytes of HMAC-SHA256 in base64url. */
const TOKEN = /^[A-Za-z0-9_-]{43}$/;

export class ForwardCookieReader {
  /** Only values confirmed by a live session are remembered: made-up ones cannot fill this. */
  private readonly known: LRUCache<string, string>;

  constructor(size = 10_000) {
    this.known = new LRUCache({ max: Math.max(1, size) });
  }

  /**
   * The forward-auth cookie named `name` in a Cookie header, or null when absent or not
   * well formed. When the name appears more than once, the first one decides (as for the
   * portal's express-session): a second copy cannot lend a credential to the first.
   */
  read(header: string | undefined, name: string): ForwardCookie | null {
    if (!header || header.length > MAX_HEADER) return null;
    let value: string | undefined;
    try {
      value = parse(header)[name];
    } catch {
      return null;
    }
    if (!value || !TOKEN.test(value)) return null;
    return { token: value, hash: this.known.get(value) ?? sha256Hex(value) };
  }

  /** The cookie belonged to a live session: skip hashing it next time. */
  remember(cookie: ForwardCookie): void {
    if (!this.known.has(cookie.token)) this.known.set(cookie.token, cookie.hash);
  }
}
