// Named guards for the route table: session, roles, recent authentication, CSRF,
// same-origin, transport, form parsing.

import express, { type RequestHandler } from 'express';
import { csrfSync } from 'csrf-sync';
import type { AppContext } from '../context.js';
import { AppError } from '../lib/errors.js';
import { safeLocalPath } from '../access/redirect.js';
import { missingForSensitiveChange } from '../auth/confirm.js';
import { inlineReauth, isPageForm, takeReauthPassword } from '../auth/reauth-inline.js';
import { passwordChangeRequired } from '../passwords/policy.js';
import { ENROLL_PATH } from '../auth/after-sign-in.js';
import { createSecondFactorPolicy, missingSecondFactor } from '../twofactor/policy.js';
import { authLevel } from '../sessions/types.js';
import { clientIp, FORWARDING_HEADERS, isLoopback } from '../theft/client-ip.js';
import { isAdmin } from '../users/groups.js';
import { takeFlash } from './flash.js';
import { PreLoginCsrf } from './pre-login-csrf.js';
import { renderPage } from './views.js';

export interface Guards {
  /** Parses a small urlencoded form (no nesting, few fields, small body). */
  form: RequestHandler;
  /** Refuses cross-site state changes by Fetch Metadata and Origin. */
  sameOrigin: RequestHandler;
  /** Synchronizer-token CSRF check for state-changing requests. */
  requireCsrf: RequestHandler;
  /** Pages for signed-in users; anonymous visitors go to the login page. */
  requireSession: RequestHandler;
  /** Refuses password entry over plain HTTP from another machine. */
  requireSafeTransport: RequestHandler;
  /**
   * After requireSession: members of the admins group only (403 for everyone else). An
   * administrator who has a second factor must have used it in this session (level 2):
   * otherwise the second step first (/login/second-factor?rd=…), without the password.
   */
  requireAdmin: RequestHandler;
  /**
   * After requireSession: a user who must choose a new password (reset by an administrator,
   * or older than password.max_age) is sent to /account/password first.
   */
  requireCurrentPassword: RequestHandler;
  /**
   * After requireSession: the two_factor config policy. A user who must use a second factor
   * (two_factor.required_for_groups, or a client outside two_factor.required_outside_networks)
   * and has none can only enroll (/account/two-factor…, /reauth) until they have; one who
   * has a factor but a password-only session takes the second step first.
   */
  requireSecondFactor: RequestHandler;
  /**
   * Dangerous actions and changes to how the account is protected (second factors, recovery
   * codes, API tokens): once the account has a second factor, a session that passed it (else
   * the second step first, /login/second-factor); and the last sign-in or password
   * confirmation under 10 minutes old (else the password again: for a page form in the same
   * answer, which then goes on with what was submitted; for other requests /reauth). Under
   * /api/: 403 second-factor-required or reauth-required.
   */
  requireRecentAuth: RequestHandler;
  /**
   * requireRecentAuth without the 10 minutes, for forms that ask for the password
   * themselves (changing it) and protective changes (forgetting a remembered device).
   */
  requireSecondFactorPassed: RequestHandler;
  /** The token to put in a page's forms (creates it on first use). */
  csrfToken(req: express.Request): string;
  /** Whether the request carries this session's CSRF token (for pages that answer themselves). */
  csrfValid(req: express.Request): boolean;
  /**
   * Before sign-in (the login form, passwordless passkey sign-in): a signed double-submit
   * token (src/http/pre-login-csrf.ts), so a visitor costs no session row.
   */
  preLoginCsrfToken(req: express.Request, res: express.Response): string;
  preLoginCsrfValid(req: express.Request): boolean;
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * A browser on this very machine: loopback peer and no sign of a proxy in between. A proxy
 * on the same host that forwards LAN traffic without X-Forwarded-For is not "local".
 */
function isLocalRequest(req: express.Request): boolean {
  if (!isLoopback(clientIp(req))) return false;
  // X-Forwarded-For that resolves to loopback is a local client behind a local proxy;
  // any other forwarding header says a proxy stands between us and someone else.
  return !FORWARDING_HEADERS.some((h) => h !== 'x-forwarded-for' && req.headers[h] !== undefined);
}

/** Pages a user who must enroll a second factor may still use (with sign-out, outside the page chain). */
const enrollmentPath = (path: string): boolean => path === ENROLL_PATH || path.startsWith(`${ENROLL_PATH}/`) || path === '/reauth';

export function createGuards(ctx: AppContext): Guards {
  const secondFactorPolicy = createSecondFactorPolicy(ctx.config.two_factor);
  /** The second step for a signed-in session, then back to this page (GET) or a 403 (forms). */
  const stepUp = (req: express.Request, res: express.Response, next: express.NextFunction): void => {
    if (SAFE_METHODS.has(req.method)) {
      const back = safeLocalPath(req.originalUrl) ?? '/';
      return res.redirect(303, `/login/second-factor?rd=${encodeURIComponent(back)}`);
    }
    next(new AppError('second-factor-required', 403, 'Confirm it is you with your second factor first: reload the page.'));
  };
  const csrf = csrfSync({
    size: 32,
    getTokenFromRequest: (req) => {
      const fromForm = (req.body as Record<string, unknown> | undefined)?._csrf;
      if (typeof fromForm === 'string') return fromForm;
      const header = req.headers['x-csrf-token'];
      return typeof header === 'string' ? header : undefined;
    },
    errorConfig: { statusCode: 403, code: 'EBADCSRFTOKEN', message: 'invalid csrf token' },
  });
  const preLogin = new PreLoginCsrf(ctx.secrets.cookieSecret, ctx.clock);

  const sameOrigin: RequestHandler = (req, _res, next) => {
    if (SAFE_METHODS.has(req.method)) return next();
    const site = req.get('sec-fetch-site');
    if (site !== undefined && site !== 'same-origin' && site !== 'none') {
      return next(new AppError('cross-site-request', 403, 'This request came from another site and was refused.'));
    }
    const origin = req.get('origin');
    if (origin !== undefined) {
      let host: string | null = null;
      try {
        host = origin === 'null' ? null : new URL(origin).host;
      } catch {
        host = null;
      }
      if (host === null || host !== req.host) {
        return next(new AppError('cross-site-request', 403, 'This request came from another site and was refused.'));
      }
    }
    next();
  };

  /** Where a form goes back to after /reauth or the second step: its page (same-origin Referer), else a page for its path. */
  const backTo = (req: express.Request): string => {
    const referer = req.get('referer');
    let back: string | null = null;
    if (referer) {
      try {
        const url = new URL(referer);
        if (url.host === req.host) back = safeLocalPath(`${url.pathname}${url.search}`);
      } catch {
        back = null;
      }
    }
    // Without a Referer: account forms go back to /account; admin form paths answer GET
    // with their page.
    const fallback = req.path.startsWith('/account/') ? '/account' : safeLocalPath(req.path);
    return back ?? fallback ?? '/';
  };

  /** A page form without a recent sign-in: the password asked within the same answer, then on with what was typed. */
  const confirmInForm = inlineReauth(ctx, { csrfToken: (req) => csrf.generateToken(req), cancelTo: backTo });

  /** One rule (missingForSensitiveChange) for pages and the JSON API alike. */
  const sensitiveChange =
    (recent: boolean): RequestHandler =>
    (req, res, next) => {
      const missing = missingForSensitiveChange(ctx, req, { recent });
      if (missing === 'none') {
        takeReauthPassword(req); // recent after all (another tab confirmed): the prompt's password is not the action's
        return next();
      }
      if (req.path.startsWith('/api/')) {
        return next(
          missing === 'second-factor'
            ? new AppError('second-factor-required', 403, 'This account has a second factor and this session has not used it: complete the second sign-in step first (/login/second-factor).')
            : new AppError('reauth-required', 403, 'Confirm your password first (POST /api/v1/me/reauth), then try again.'),
        );
      }
      // The prompt takes a password: only where passwords may be typed (as /reauth).
      if (missing === 'recent-auth' && isPageForm(req)) return requireSafeTransport(req, res, () => void Promise.resolve(confirmInForm(req, res, next)).catch(next));
      const page = missing === 'second-factor' ? '/login/second-factor' : '/reauth';
      res.redirect(303, `${page}?rd=${encodeURIComponent(backTo(req))}`);
    };

  const requireSafeTransport: RequestHandler = (req, res, next) => {
    if (req.secure || ctx.config.server.allow_insecure_http || isLocalRequest(req)) return next();
    if (req.path.startsWith('/api/')) return next(new AppError('https-required', 403, 'Passwords are only accepted over HTTPS (or from this machine).'));
    renderPage(res, 'insecure.njk', { title: 'HTTPS required' }, 403);
  };

  return {
    form: express.urlencoded({ extended: false, limit: '16kb', parameterLimit: 20 }),
    sameOrigin,
    requireCsrf: csrf.csrfSynchronisedProtection,
    requireSession: (req, res, next) => {
      const user = req.user as Express.User | undefined;
      if (user) {
        // The layout's navigation: who is signed in, the admin link, the sign-out form.
        res.locals.nav = { user, admin: isAdmin(user.groups), path: req.path, csrfToken: csrf.generateToken(req) };
        // Messages left by the previous form are shown by the page that follows (a GET).
        if (req.method === 'GET') res.locals.flash = takeFlash(req);
        return next();
      }
      if (SAFE_METHODS.has(req.method)) return res.redirect(303, '/login');
      next(new AppError('not-signed-in', 401, 'You are not signed in.'));
    },
    requireSafeTransport,
    requireAdmin: (req, res, next) => {
      const user = req.user as Express.User | undefined;
      if (!user || !isAdmin(user.groups)) return next(new AppError('forbidden', 403, 'This page is for administrators.'));
      if (authLevel(req.session.auth) === 2 || !ctx.twoFactor.isEnabled(user.id)) return next();
      stepUp(req, res, next);
    },
    requireSecondFactor: (req, res, next) => {
      const user = req.user as Express.User | undefined;
      if (!user || !secondFactorPolicy.required(user, clientIp(req))) return next();
      const missing = missingSecondFactor(authLevel(req.session.auth), () => ctx.twoFactor.isEnabled(user.id));
      if (missing === 'none') return next();
      if (missing === 'step-up') return stepUp(req, res, next);
      if (enrollmentPath(req.path)) {
        // The layout leaves out the links that would only lead back to enrollment.
        if (res.locals.nav) res.locals.nav.enrolling = true;
        return next();
      }
      if (SAFE_METHODS.has(req.method)) return res.redirect(303, ENROLL_PATH);
      next(new AppError('second-factor-enrollment-required', 403, 'Set up two-factor sign-in before doing anything else.'));
    },
    requireCurrentPassword: (req, res, next) => {
      const user = req.user as Express.User | undefined;
      if (!user || !passwordChangeRequired(user, ctx.config.password.max_age, ctx.clock.now())) return next();
      if (SAFE_METHODS.has(req.method)) return res.redirect(303, '/account/password');
      next(new AppError('password-change-required', 403, 'Choose a new password before doing anything else.'));
    },
    requireRecentAuth: sensitiveChange(true),
    requireSecondFactorPassed: sensitiveChange(false),
    csrfToken: (req) => csrf.generateToken(req),
    csrfValid: (req) => csrf.isRequestValid(req),
    preLoginCsrfToken: (req, res) => preLogin.token(req, res),
    preLoginCsrfValid: (req) => preLogin.valid(req),
  };
}
