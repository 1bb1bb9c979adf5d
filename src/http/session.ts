// The session cookie middleware. Over HTTPS (directly or via a trusted proxy) the cookie is
// Secure with the `__Host-` prefix, or `__Secure-` when a cookie domain is configured
// (`__Host-` forbids a Domain attribute). Plain HTTP (local setup) gets the bare name.

import type { Request, RequestHandler } from 'express';
import session from 'express-session';
import type { AppContext } from '../context.js';
import { clientIp } from '../theft/client-ip.js';

export interface CookieNames {
  secure: string;
  plain: string;
}

export function cookieNames(ctx: AppContext): CookieNames {
  const { name, cookie_domain } = ctx.config.session;
  return { secure: `${cookie_domain ? '__Secure-' : '__Host-'}${name}`, plain: name };
}

/**
 * express-session installs its own `generate` function on the store it is given, so two
 * middleware instances on one store would overwrite each other's cookie settings. Each
 * gets its own thin view that forwards storage calls to the one SQLite store.
 */
class StoreView extends session.Store {
  constructor(private readonly target: session.Store) {
    super();
  }
  override get(sid: string, cb: (err: unknown, s?: session.SessionData | null) => void): void {
    this.target.get(sid, cb);
  }
  override set(sid: string, s: session.SessionData, cb?: (err?: unknown) => void): void {
    this.target.set(sid, s, cb);
  }
  override destroy(sid: string, cb?: (err?: unknown) => void): void {
    this.target.destroy(sid, cb);
  }
  override touch(sid: string, s: session.SessionData, cb?: () => void): void {
    this.target.touch?.(sid, s, cb);
  }
}

export function sessionMiddleware(ctx: AppContext): RequestHandler {
  const names = cookieNames(ctx);
  const common = {
    secret: ctx.secrets.cookieSecret,
    // Nothing is written for a visitor until the session holds something (a CSRF token).
    resave: false,
    saveUninitialized: false,
    rolling: false,
  } satisfies session.SessionOptions;
  const secure = session({
    ...common,
    store: new StoreView(ctx.sessions),
    name: names.secure,
    cookie: { httpOnly: true, secure: true, sameSite: 'lax', path: '/', ...(ctx.config.session.cookie_domain ? { domain: ctx.config.session.cookie_domain } : {}) },
  });
  const plain = session({ ...common, store: new StoreView(ctx.sessions), name: names.plain, cookie: { httpOnly: true, secure: false, sameSite: 'lax', path: '/' } });
  return (req, res, next) => (req.secure ? secure(req, res, next) : plain(req, res, next));
}

export function sessionCookieName(ctx: AppContext, secure: boolean): string {
  const names = cookieNames(ctx);
  return secure ? names.secure : names.plain;
}

/**
 * The theft check on pages: a signed-in session used from an address its binding does not
 * allow is ended by the guard, and this request continues with a fresh, empty session.
 */
export function theftCheck(ctx: AppContext): RequestHandler {
  return (req, _res, next) => {
    const auth = req.session?.auth;
    const userId = req.session?.passport?.user;
    if (!auth || typeof userId !== 'number') return next();
    if (ctx.guard.admit(req.sessionID, { userId, boundIp: auth.ip }, clientIp(req), 'page')) return next();
    req.session.regenerate((err) => next(err));
  };
}

/**
 * A new session ID for the same signed-in session, after a password change or another
 * re-authentication (OWASP: renew the ID whenever the authentication changes). The old ID
 * ends (reason `regenerated`) and can never be saved back.
 */
export function renewSessionId(req: Request, now: number): Promise<void> {
  const keep = { passport: req.session.passport, auth: req.session.auth ? { ...req.session.auth, at: now } : undefined, flash: req.session.flash };
  return new Promise((resolve, reject) => {
    req.session.regenerate((err) => {
      if (err) return reject(err);
      if (keep.passport) req.session.passport = keep.passport;
      if (keep.auth) req.session.auth = keep.auth;
      if (keep.flash) req.session.flash = keep.flash;
      resolve();
    });
  });
}
