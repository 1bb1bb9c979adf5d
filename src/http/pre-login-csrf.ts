// CSRF protection for the forms shown before sign-in (the login form and its passwordless
// passkey button) without a session row per visitor (issue 24: every cookie-less GET /login
// used to store a session just to hold its synchronizer token). A signed double-submit
// token (OWASP CSRF cheat sheet): a small HttpOnly cookie holds a random nonce and its issue
// time; the form carries HMAC-SHA256(key, cookie value), the key derived from the cookie
// secret. A POST passes only when the token matches this browser's cookie:
// - another site can neither read the cookie nor compute the token without the key;
// - over HTTPS the cookie is `__Host-` (Secure, Path=/, no Domain), so a sibling subdomain
//   cannot plant a cookie of its choosing (cookie tossing) to pair with a token it holds;
// - the Fetch-Metadata/Origin check (guards.sameOrigin) runs before it, as for every form.
// Signed-in pages keep csrf-sync's synchronizer token in the session.

import { createHmac } from 'node:crypto';
import type { Request, Response } from 'express';
import { parse } from 'cookie';
import type { Clock } from '../lib/clock.js';
import { constantTimeEqual, randomToken } from '../lib/crypto.js';

const BASE_NAME = 'gatehouse_csrf';
const MAX_HEADER = 8192;
/** A login page left open longer than this is refused with a fresh form ("form had expired"). */
export const PRE_LOGIN_CSRF_LIFETIME_MS = 12 * 3_600_000;
/** A page shown with a cookie older than this gets a new one, so its form has time left. */
const RENEW_AFTER_MS = PRE_LOGIN_CSRF_LIFETIME_MS / 2;
/** The cookie value: 128 random bits, then the issue time in base 36. */
const VALUE = /^([A-Za-z0-9_-]{22})\.([0-9a-z]{1,11})$/;

export const preLoginCsrfCookieName = (secure: boolean): string => (secure ? `__Host-${BASE_NAME}` : BASE_NAME);

export class PreLoginCsrf {
  private readonly key: Buffer;

  constructor(
    cookieSecret: string,
    private readonly clock: Clock,
  ) {
    // Its own key, so a token can never double as any other MAC made with the cookie secret.
    this.key = createHmac('sha256', cookieSecret).update('gatehouse pre-login CSRF v1').digest();
  }

  /** The token for this browser's pre-login forms; sets the cookie when it has no fresh one. */
  token(req: Request, res: Response): string {
    let value = this.cookieValue(req, RENEW_AFTER_MS);
    if (value === null) {
      value = `${randomToken(16)}.${this.clock.now().toString(36)}`;
      res.cookie(preLoginCsrfCookieName(req.secure), value, { httpOnly: true, secure: req.secure, sameSite: 'lax', path: '/', maxAge: PRE_LOGIN_CSRF_LIFETIME_MS });
    }
    return this.sign(value);
  }

  /** Whether the request carries (form field `_csrf` or X-CSRF-Token) the token of its own unexpired cookie. */
  valid(req: Request): boolean {
    const value = this.cookieValue(req, PRE_LOGIN_CSRF_LIFETIME_MS);
    const sent = tokenFromRequest(req);
    return value !== null && sent !== null && constantTimeEqual(sent, this.sign(value));
  }

  private sign(value: string): string {
    return createHmac('sha256', this.key).update(value).digest('base64url');
  }

  /** The cookie's value when well-formed and issued less than `maxAgeMs` ago; else null. */
  private cookieValue(req: Request, maxAgeMs: number): string | null {
    const header = req.headers.cookie;
    if (!header || header.length > MAX_HEADER) return null;
    let value: string | undefined;
    try {
      value = parse(header)[preLoginCsrfCookieName(req.secure)];
    } catch {
      return null;
    }
    const match = value === undefined ? null : VALUE.exec(value);
    if (!match) return null;
    const age = this.clock.now() - parseInt(match[2] as string, 36);
    // A time ahead of the clock (tampered, or the clock went back a lot) is not accepted either.
    return age >= -60_000 && age < maxAgeMs ? (value as string) : null;
  }
}

function tokenFromRequest(req: Request): string | null {
  const fromForm = (req.body as Record<string, unknown> | undefined)?._csrf;
  if (typeof fromForm === 'string') return fromForm.length <= 128 ? fromForm : null;
  const header = req.headers['x-csrf-token'];
  return typeof header === 'string' && header.length <= 128 ? header : null;
}
