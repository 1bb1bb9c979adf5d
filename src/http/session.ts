// The session cookie middleware. Over HTTPS (directly or via a trusted proxy) the cookie is
// Secure with the `__Host-` prefix, or `__Secure-` when a cookie domain is configured
// (`__Host-` forbids a Domain attribute). Plain HTTP (local setup) gets the bare name.

import type { RequestHandler } from 'express';
import session from 'express-session';
import type { AppContext } from '../context.js';

export interface CookieNames {
  secure: string;
  plain: string;
}

export function cookieNames(ctx: AppContext): CookieNames {
  const { name, cookie_domain } = ctx.config.session;
  return { secure: `${cookie_domain ? '__Secure-' : '__Host-'}${name}`, plain: name };
}

export function sessionMiddleware(ctx: AppContext): RequestHandler {
  const names = cookieNames(ctx);
  const common = {
    store: ctx.sessions,
    secret: ctx.secrets.cookieSecret,
    // Nothing is written for a visitor until the session holds something (a CSRF token).
    resave: false,
    saveUninitialized: false,
    rolling: false,
  } satisfies session.SessionOptions;
  const secure = session({
    ...common,
    name: names.secure,
    cookie: { httpOnly: true, secure: true, sameSite: 'lax', path: '/', ...(ctx.config.session.cookie_domain ? { domain: ctx.config.session.cookie_domain } : {}) },
  });
  const plain = session({ ...common, name: names.plain, cookie: { httpOnly: true, secure: false, sameSite: 'lax', path: '/' } });
  return (req, res, next) => (req.secure ? secure(req, res, next) : plain(req, res, next));
}

export function sessionCookieName(ctx: AppContext, secure: boolean): string {
  const names = cookieNames(ctx);
  return secure ? names.secure : names.plain;
}
