// HTTP adapters for signing in and out: parse the form, call the domain, map the outcome.

import type { Request, RequestHandler, Response } from 'express';
import { z } from 'zod';
import { safeLocalPath, safeRedirectTarget } from '../access/redirect.js';
import type { AppContext } from '../context.js';
import type { Guards } from '../http/guards.js';
import { clearSessionCookies } from '../http/session.js';
import { AppError } from '../lib/errors.js';
import { renderPage } from '../http/views.js';
import { handleOf, hashSessionId } from '../sessions/store.js';
import { clientIp } from '../theft/client-ip.js';
import { authLevel } from '../sessions/types.js';
import { normalizeUsername } from '../users/username.js';
import { checkPasswordInput } from '../passwords/hasher.js';
import type { createPassport, LoginFailureInfo, LoginSuccessInfo } from './passport.js';
import { destinationAfterSignIn } from './after-sign-in.js';
import { createSecondFactorPolicy } from '../twofactor/policy.js';
import { deviceIsRemembered } from './remember-device-cookie.js';
import { beginSecondFactor } from './second-factor-routes.js';
import { signIn } from './sign-in.js';
import { recordSignIn } from './sign-in-record.js';

/** One message for every failed sign-in: nothing tells whether the user exists. */
export const GENERIC_LOGIN_FAILURE = 'Incorrect username or password.';

const text = (field: string) => z.string({ error: `${field} must be a single text value.` });
const loginForm = z.object({
  username: text('The username'),
  password: text('The password'),
  remember: z.literal('on', { error: 'remember must be "on" or absent.' }).optional(),
  rd: text('rd').max(2048, { error: 'rd is too long.' }).optional(),
});

const NOTICES = new Map([
  ['signed_out', 'You have been signed out.'],
  ['setup', 'The administrator account was created. Sign in with it now.'],
  ['second_factor_expired', 'The second step of sign-in took too long or was already done. Please sign in again.'],
]);

export function loginRoutes(ctx: AppContext, guards: Guards, passport: ReturnType<typeof createPassport>) {
  const cookieDomain = ctx.config.session.cookie_domain;
  const policy = createSecondFactorPolicy(ctx.config.two_factor);

  function showForm(req: Request, res: Response, status: number, extra: { error?: string; username?: string; rd?: string | undefined }): void {
    const notice = typeof req.query.notice === 'string' ? NOTICES.get(req.query.notice) : undefined;
    renderPage(
      res,
      'login.njk',
      {
        title: 'Sign in',
        // Signed double-submit, not the session's token: showing the form stores nothing.
        csrfToken: guards.preLoginCsrfToken(req, res),
        rememberDays: Math.floor(ctx.config.session.remember_me / 86_400_000),
        notice: extra.error ? undefined : notice,
        ...extra,
      },
      status,
    );
  }

  /** Where a signed-in user goes: on to `rd`, unless a new password or enrollment comes first. */
  const afterSignIn = (req: Request, user: Express.User, rd: string | null): string => destinationAfterSignIn(ctx, policy, user, clientIp(req), rd);

  const page: RequestHandler = (req, res) => {
    const rd = typeof req.query.rd === 'string' ? req.query.rd : undefined;
    const user = req.user as Express.User | undefined;
    if (user) {
      const target = safeRedirectTarget(rd, cookieDomain);
      // Sent here by a two_factor rule (forward auth) with a password-only session: the
      // second step, without the password again, when the user has a factor.
      if (authLevel(req.session.auth) !== 2 && ctx.twoFactor.isEnabled(user.id)) {
        return res.redirect(303, `/login/second-factor${target ? `?rd=${encodeURIComponent(target)}` : ''}`);
      }
      return res.redirect(303, afterSignIn(req, user, target));
    }
    showForm(req, res, 200, { rd: safeRedirectTarget(rd, cookieDomain) ?? undefined });
  };

  /**
   * A sign-in form left open past its token's life fails the CSRF check: show a fresh form
   * with a clear message instead of an error page.
   */
  const csrf: RequestHandler = (req, res, next) => {
    if (guards.preLoginCsrfValid(req)) return next();
    const rd = safeRedirectTarget((req.body as Record<string, unknown> | undefined)?.rd, cookieDomain) ?? undefined;
    showForm(req, res, 403, { error: 'This sign-in form had expired or was not sent from this site. Please sign in again.', rd });
  };

  const submit: RequestHandler = (req, res, next) => {
    const ip = clientIp(req);
    const parsed = loginForm.safeParse(req.body ?? {});
    if (!parsed.success) {
      ctx.metrics.login('failed');
      ctx.audit.loginFailed({ ip, reason: 'invalid-input' });
      return showForm(req, res, 400, { error: parsed.error.issues[0]?.message ?? 'The form was not filled in correctly.' });
    }
    const form = parsed.data;
    const rd = safeRedirectTarget(form.rd, cookieDomain) ?? undefined;
    const name = normalizeUsername(form.username);
    const password = checkPasswordInput(form.password);
    // Malformed input (NUL, invisible characters, over-long) is refused before any hashing.
    const malformed = !name.ok && name.kind === 'malformed' ? name.message : !password.ok ? password.message : null;
    if (malformed) {
      ctx.metrics.login('failed');
      ctx.audit.loginFailed({ ip, reason: 'invalid-input' });
      return showForm(req, res, 400, { error: malformed, rd });
    }
    // The regulator decides before any hashing: a throttled guess costs no argon2 run and
    // gets the same generic message (429 and Retry-After say only "not now").
    const verdict = ctx.regulator.check(ip, name.ok ? name.username : null);
    if (!verdict.allowed) {
      ctx.metrics.login('throttled');
      ctx.log.info({ event: 'login-throttled', ip, reason: verdict.reason, retryAfter: verdict.retryAfter }, 'sign-in throttled');
      res.set('Retry-After', String(verdict.retryAfter));
      return showForm(req, res, 429, { error: GENERIC_LOGIN_FAILURE, username: form.username.slice(0, 256), rd });
    }
    const attempt = verdict.attempt;
    // Passport calls back from inside a promise chain: anything thrown here (an audit write
    // hitting a locked database) must become next(err) → 503, not an unhandled rejection.
    const guarded =
      <A extends unknown[]>(fn: (...args: A) => void) =>
      (...args: A) => {
        try {
          fn(...args);
        } catch (err) {
          next(err);
        }
      };
    /** The end of a successful sign-in (password alone, or password and a remembered device). */
    const signedIn = (user: Express.User, method: 'remembered-device' | null): void => {
      const session = recordSignIn(ctx, req, user, ip);
      ctx.log.info({ event: 'login-succeeded', user: user.username, ip, session, ...(method ? { method } : {}) }, 'signed in');
      res.redirect(303, afterSignIn(req, user, rd ?? null));
    };
    const authenticate = passport.authenticate('local', { session: true }, guarded((err: unknown, user: Express.User | false, info?: LoginFailureInfo | LoginSuccessInfo) => {
      if (err) {
        attempt.abandon(); // no verdict on the password (e.g. busy): neither failure nor success
        if (err instanceof AppError && err.code === 'busy') ctx.metrics.login('busy');
        return next(err);
      }
      if (!user || !info || !('epoch' in info)) {
        const failure = info && 'reason' in info ? info : undefined;
        ctx.metrics.login('failed');
        try {
          ctx.audit.loginFailed({ username: failure?.username ?? null, ip, reason: failure?.reason ?? 'bad-credentials' });
          ctx.log.info({ event: 'login-failed', ip, reason: failure?.reason ?? 'bad-credentials' }, 'sign-in refused');
        } finally {
          attempt.failed(); // counted even when the audit write failed
        }
        return showForm(req, res, 401, { error: GENERIC_LOGIN_FAILURE, username: form.username.slice(0, 256), rd });
      }
      attempt.succeeded();
      // An account with a second factor is not signed in yet: a new session (new ID) holds
      // the pending state, and the browser goes to the second step.
      if (ctx.twoFactor.isEnabled(user.id)) {
        // A browser remembered for THIS user (src/auth/remember-device-cookie.ts) skips the
        // step: signed in at level 2 by 'remembered-device' (new session ID as always).
        if (deviceIsRemembered(ctx, req, user.id)) {
          signIn(ctx, req, res, user, { remember: form.remember === 'on', secondFactor: 'remembered-device', epoch: info.epoch });
          return signedIn(user, 'remembered-device');
        }
        beginSecondFactor(req, { userId: user.id, at: ctx.clock.now(), remember: form.remember === 'on', rd: rd ?? null, epoch: info.epoch }).then(
          guarded(() => {
            ctx.log.info({ event: 'login-password-accepted', user: user.username, ip }, 'password accepted; second factor pending');
            res.redirect(303, '/login/second-factor');
          }),
          next,
        );
        return;
      }
      // A new session ID (fixation), issued only if no password change or revoke-all came
      // while the password was checked.
      signIn(ctx, req, res, user, { remember: form.remember === 'on', epoch: info.epoch });
      signedIn(user, null);
    }));
    try {
      authenticate(req, res, next);
    } catch (err) {
      attempt.abandon();
      next(err);
    }
  };

  /**
   * Where a sign-out may return to (`rd`, from an app's sign-out link): an https URL on the
   * cookie domain, checked as the login's rd is, or a path of the portal's own; else nothing.
   */
  const logoutTarget = (rd: unknown): string | null => {
    const app = safeRedirectTarget(rd, cookieDomain);
    if (app) return app.startsWith('https:') ? app : null;
    return safeLocalPath(rd);
  };
  const bodyRd = (req: Request): unknown => (req.body as Record<string, unknown> | undefined)?.rd;

  /**
   * GET /logout[?rd=…], the link apps put behind their "Sign out": a page with one button
   * (the POST below). A GET changes nothing, so a prefetch or an <img> signs nobody out.
   * Signed out already: straight on to `rd` (or the login page).
   */
  const logoutPage: RequestHandler = (req, res) => {
    const rd = logoutTarget(req.query.rd);
    if (!req.user) return res.redirect(303, rd ?? '/login');
    const user = req.user as Express.User;
    renderPage(res, 'logout.njk', { title: 'Sign out', user, csrfToken: guards.csrfToken(req), rd, rdHost: rd && !rd.startsWith('/') ? new URL(rd).host : null });
  };

  /** Without a signed-in session there is nothing to end: go on to `rd`, or the login page. */
  const skipIfSignedOut: RequestHandler = (req, res, next) => (req.user ? next() : res.redirect(303, logoutTarget(bodyRd(req)) ?? '/login'));

  const logout: RequestHandler = (req, res, next) => signOut(ctx, req, res, next, logoutTarget(bodyRd(req)) ?? undefined);

  return { page, csrf, submit, logoutPage, skipIfSignedOut, logout };
}

/**
 * Signs the request's session out (the logout button, or ending "this device" from a list):
 * dead server-side first, so a request still running with it cannot save it back; then the
 * cookie is cleared and the browser goes to the login page (or `to`, a checked `rd`).
 */
export function signOut(ctx: AppContext, req: Request, res: Response, next: (err?: unknown) => void, to = '/login?notice=signed_out'): void {
  const user = req.user as Express.User;
  const session = handleOf(hashSessionId(req.sessionID));
  ctx.sessions.revoke(req.sessionID, 'logout');
  ctx.audit.logout({ userId: user.id, username: user.username, ip: clientIp(req), session });
  req.session.destroy((err) => {
    if (err) return next(err);
    clearSessionCookies(ctx, req, res);
    res.redirect(303, to);
  });
}
