// The session cookies. A signed-in browser holds two cookies of one session row:
// - the portal cookie (express-session's signed ID), host-only: `__Host-<name>` over HTTPS
//   (directly or via a trusted proxy), plain `<name>` over HTTP. gatehouse's own pages and
//   API accept only this one.
// - the forward-auth cookie `<...>_forward`, a keyed derivation of the ID, shared with
//   `session.cookie_domain` (`__Secure-` prefix, Domain) or host-only without one. Proxies
//   pass it to every upstream, so it is good for forward auth alone: an upstream replaying
//   it cannot open /account, /admin or /api or mint anything.
// Every new signed-in session ID is issued here (issueSession), through the store's
// succession rule.

import type { CookieOptions, Request, RequestHandler, Response } from 'express';
import session, { type SessionData } from 'express-session';
import type { AppContext } from '../context.js';
import { sessionEnded } from '../lib/errors.js';
import { cookieNames, forwardHashOf, forwardToken } from '../sessions/cookie.js';
import { hashSessionId, SessionEndedError } from '../sessions/store.js';
import type { SessionAuth } from '../sessions/types.js';
import { clientIp } from '../theft/client-ip.js';
import type { User } from '../users/repository.js';

/**
 * express-session installs its own `generate` function on the store it is given, so two
 * middleware instances on one store would overwrite each other's cookie settings. Each
 * gets its own thin view that forwards storage calls to the one Store (ctx.sessionStore).
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
  const names = cookieNames(ctx.config.session);
  const common = {
    secret: ctx.secrets.cookieSecret,
    // Nothing is written for a visitor until the session holds something (a CSRF token).
    resave: false,
    saveUninitialized: false,
    rolling: false,
  } satisfies session.SessionOptions;
  const secure = session({
    ...common,
    store: new StoreView(ctx.sessionStore),
    name: names.secure,
    // Host-only: the portal cookie never reaches the services on the cookie domain.
    cookie: { httpOnly: true, secure: true, sameSite: 'lax', path: '/' },
  });
  const plain = session({ ...common, store: new StoreView(ctx.sessionStore), name: names.plain, cookie: { httpOnly: true, secure: false, sameSite: 'lax', path: '/' } });
  return (req, res, next) => (req.secure ? secure(req, res, next) : plain(req, res, next));
}

/** The forward-auth cookie's attributes for this request (Domain when one is configured). */
function forwardCookieOptions(ctx: AppContext, req: Request): CookieOptions {
  const domain = ctx.config.session.cookie_domain;
  return { path: '/', httpOnly: true, secure: req.secure, sameSite: 'lax', ...(req.secure && domain ? { domain } : {}) };
}

/** Clears both cookies of the request's session (sign-out). */
export function clearSessionCookies(ctx: AppContext, req: Request, res: Response): void {
  const names = cookieNames(ctx.config.session);
  res.clearCookie(req.secure ? names.secure : names.plain, { path: '/', httpOnly: true, secure: req.secure, sameSite: 'lax' });
  res.clearCookie(req.secure ? names.forwardSecure : names.forwardPlain, forwardCookieOptions(ctx, req));
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
    if (ctx.guard.admit({ hash: hashSessionId(req.sessionID), userId, boundIp: auth.ip }, clientIp(req), 'page')) return next();
    req.session.regenerate((err) => next(err));
  };
}

/** What a new signed-in session ID is issued for. */
export interface SessionGrant {
  user: User;
  /** How the user proved who they are for this ID (level, methods, remember, times). */
  auth: Omit<SessionAuth, 'ip' | 'userAgent'>;
  /**
   * A sign-in: the user's session epoch read with the credential, before it was checked
   * (ctx.sessions.epochOf). Absent for a renewal of the request's signed-in session.
   */
  epoch?: number;
  /** A sign-in that uses up the request's pending state (second step): it must be live. */
  consume?: boolean;
  /** Keep the session's one-time messages (a renewal mid-flow). */
  keepFlash?: boolean;
}

/**
 * Issues a new session ID for a signed-in user: sign-in, second step, step-up, passkey,
 * re-authentication and password change all come here (OWASP: a new ID whenever the
 * authentication changes; the old ID is dead after). The store proves, in the transaction
 * that inserts the successor, that what the request authenticated still holds (see
 * Sessions.succeed); otherwise the request is answered as signed out (401) and
 * nothing is issued. Sets the forward-auth cookie beside express-session's portal cookie.
 */
export function issueSession(ctx: AppContext, req: Request, res: Response, grant: SessionGrant): void {
  const predecessor = req.sessionID;
  const flash = grant.keepFlash ? req.session.flash : undefined;
  // express-session's own generator: a new ID (192 bits) and a Session with our cookie settings.
  req.sessionStore.generate(req);
  const auth: SessionAuth = { ...grant.auth, ip: clientIp(req), userAgent: (req.get('user-agent') ?? '').slice(0, 256) };
  req.session.passport = { user: grant.user.id };
  req.session.auth = auth;
  if (flash) req.session.flash = flash;
  if (auth.remember && ctx.config.session.remember_me > 0) req.session.cookie.maxAge = ctx.config.session.remember_me;
  const token = forwardToken(ctx.secrets.cookieSecret, req.sessionID);
  try {
    ctx.sessions.succeed({
      predecessor,
      successor: req.sessionID,
      userId: grant.user.id,
      data: req.session as unknown as SessionData,
      forwardHash: forwardHashOf(token),
      ...(grant.epoch !== undefined ? { epoch: grant.epoch } : {}),
      ...(grant.consume ? { consume: true } : {}),
    });
  } catch (err) {
    if (!(err instanceof SessionEndedError)) throw err;
    // Answered as signed out, with no session at all: no cookie is set, so a browser whose
    // other request (a double click) got the successor keeps it.
    delete (req as { session?: unknown }).session;
    req.user = undefined;
    ctx.log.info({ event: 'session-issue-refused', why: err.why, user: grant.user.username }, 'no new session ID: the session or its authentication has ended');
    throw sessionEnded(err);
  }
  req.user = grant.user;
  const names = cookieNames(ctx.config.session);
  const options = forwardCookieOptions(ctx, req);
  res.cookie(req.secure ? names.forwardSecure : names.forwardPlain, token, req.session.cookie.maxAge ? { ...options, maxAge: req.session.cookie.maxAge } : options);
}

/**
 * A new ID for the request's signed-in session after a re-authentication or a password
 * change: the same user and level, authenticated `now`, flash kept.
 */
export function renewSessionId(ctx: AppContext, req: Request, res: Response, now: number): void {
  const user = req.user as User | undefined;
  const auth = req.session.auth;
  if (!user || !auth) throw sessionEnded();
  const { ip: _ip, userAgent: _ua, ...rest } = auth;
  issueSession(ctx, req, res, { user, auth: { ...rest, at: now }, keepFlash: true });
}
