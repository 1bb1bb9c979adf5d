// HTTP adapters for changing one's own password (/account/password, also the page a forced
// change leads to) and for the strength meter's check (POST /password/strength).

import type { Request, RequestHandler, Response } from 'express';
import { z } from 'zod';
import { safeLocalPath, safeRedirectTarget } from '../access/redirect.js';
import { confirmPassword } from '../auth/confirm.js';
import { MIN_LENGTH_SINGLE_FACTOR, MIN_LENGTH_WITH_SECOND_FACTOR, passwordChangeRequired } from '../passwords/policy.js';
import type { AppContext } from '../context.js';
import { addFlash } from '../http/flash.js';
import { renewSessionId } from '../http/session.js';
import type { Guards } from '../http/guards.js';
import { strictJson } from '../http/json-body.js';
import { renderPage } from '../http/views.js';
import { formatDuration } from '../lib/duration.js';
import { AppError } from '../lib/errors.js';
import { isAdmin } from '../users/groups.js';
import { normalizeUsername } from '../users/username.js';
import { clientIp } from '../theft/client-ip.js';
import { formPassword, formText, parseForm } from '../http/form-fields.js';
import { strengthRequester } from '../http/rate-limit.js';
import { passwordStrength } from './strength.js';

const changeForm = z.object({
  current_password: formPassword('The current password'),
  new_password: formPassword('The new password'),
  // Asked twice: one typo in a password nobody can see would lock its owner out.
  new_password_confirm: formPassword('The new password again'),
  rd: z.string({ error: 'rd must be a single text value.' }).max(2048, { error: 'rd is too long.' }).optional(),
});

const strengthBody = z.object({
  password: z.string({ error: 'password must be a string.' }).max(1024, { error: 'The password is too long.' }),
  username: formText('username', 256).optional(),
});

export function passwordRoutes(ctx: AppContext, guards: Guards) {
  const cookieDomain = ctx.config.session.cookie_domain;

  /** Where to go after the change: an app in the cookie domain, a page of gatehouse, or null. */
  const target = (rd: unknown): string | null => safeRedirectTarget(rd, cookieDomain) ?? safeLocalPath(rd);

  /** Why this user must choose a new password now, or null when it is their own choice. */
  function requiredBecause(user: Express.User): string | null {
    const fresh = ctx.users.findById(user.id) ?? user;
    const maxAge = ctx.config.password.max_age;
    if (!passwordChangeRequired(fresh, maxAge, ctx.clock.now())) return null;
    if (fresh.mustChangePassword) return 'An administrator set a temporary password for you. Choose your own password to continue.';
    return `Your password is older than ${formatDuration(maxAge ?? 0)}, the limit set for this gatehouse. Choose a new one to continue.`;
  }

  function showForm(req: Request, res: Response, status: number, extra: { error?: string; problems?: string[]; rd?: string | null } = {}): void {
    const user = req.user as Express.User;
    renderPage(
      res,
      'account-password.njk',
      {
        title: 'Change password',
        user,
        csrfToken: guards.csrfToken(req),
        required: requiredBecause(user),
        minLength: ctx.twoFactor.isEnabled(user.id) ? MIN_LENGTH_WITH_SECOND_FACTOR : MIN_LENGTH_SINGLE_FACTOR,
        error: extra.error,
        problems: extra.problems ?? [],
        rd: extra.rd ?? undefined,
      },
      status,
    );
  }

  const page: RequestHandler = (req, res) => showForm(req, res, 200, { rd: target(req.query.rd) });

  const submit: RequestHandler = async (req, res) => {
    const user = req.user as Express.User;
    const rd = target((req.body as Record<string, unknown> | undefined)?.rd);
    let form;
    try {
      form = parseForm(changeForm, req.body);
    } catch (err) {
      return showForm(req, res, 400, { error: (err as AppError).publicMessage, rd });
    }
    if (form.new_password !== form.new_password_confirm) return showForm(req, res, 400, { error: 'The two new passwords do not match. Type the same new password twice.', rd });
    /** A refusal the user can act on (4xx: wrong password, weak password, wait) goes back to the form. */
    const refused = (err: unknown): void => {
      if (!(err instanceof AppError) || err.status >= 500) throw err;
      if (err.retryAfter !== undefined) res.set('Retry-After', String(err.retryAfter));
      showForm(req, res, err.status, { error: err.publicMessage, rd });
    };
    // The new password's policy first, then the current password. Each estimate is charged
    // to this user's strength budget (the meter's: 429 once spent) and waits in the
    // estimator's queue in a place of this user's own, so however often one user submits,
    // they cannot take the estimator from anybody else. Checking the current password first
    // would not protect the estimator further (the meter spends the same budget with only
    // the session) but would put an argon2 verification, which the regulator limits only
    // when it fails, in front of the budget; this way the budget bounds both. And a refused
    // new password still costs no throttle attempt: the user may try another at once.
    // With a second factor on the account, 8 characters are enough (NIST SP 800-63B-4).
    const hasSecondFactor = ctx.twoFactor.isEnabled(user.id);
    const requester = strengthRequester(ctx, req);
    let problems: string[];
    try {
      problems = await ctx.accounts.passwordProblems(form.new_password, user.username, hasSecondFactor, requester);
    } catch (err) {
      return refused(err);
    }
    if (problems.length) return showForm(req, res, 400, { error: 'The new password cannot be used:', problems, rd });
    try {
      await confirmPassword(ctx, req, form.current_password);
    } catch (err) {
      return refused(err);
    }
    let revoked: number;
    let tokens: number;
    try {
      ({ sessionsRevoked: revoked, tokensRevoked: tokens } = await ctx.accounts.setPassword(user.username, form.new_password, `user:${user.username}`, {
        keepSid: req.sessionID,
        ip: clientIp(req),
        hasSecondFactor,
        requester,
      }));
    } catch (err) {
      if (err instanceof AppError && (err.status === 400 || err.status === 429)) return refused(err);
      throw err;
    }
    // The session continues under a new ID: whoever may have copied the old cookie is out.
    renewSessionId(ctx, req, res, ctx.clock.now());
    const ended = [
      revoked ? `${revoked} other ${revoked === 1 ? 'session was' : 'sessions were'} signed out` : '',
      tokens ? `${tokens} API ${tokens === 1 ? 'token was' : 'tokens were'} revoked` : '',
    ].filter(Boolean);
    addFlash(req, `Your password was changed.${ended.length ? ` ${ended.join('; ')}.` : ''}`);
    res.redirect(303, rd ?? '/account');
  };

  /** Small JSON bodies only: a password and a username fit easily in 2 kB. */
  const parseJson = strictJson('2kb');
  const json: RequestHandler = (req, res, next) => {
    if (!req.is('application/json')) return next(new AppError('unsupported-media-type', 415, 'Send the body as application/json.'));
    parseJson(req, res, next);
  };

  /**
   * Who may use the meter: a signed-in user, or the setup page's visitor with the page's
   * valid setup token in X-Setup-Token (only while no account exists). Anyone else is
   * refused before any work: an estimate costs tens of milliseconds of CPU.
   */
  const strengthAccess: RequestHandler = (req, _res, next) => {
    if (req.user) return next();
    const token = req.get('x-setup-token');
    if (token === undefined) return next(new AppError('not-signed-in', 401, 'Sign in (or open the setup link) to check a password.'));
    if (ctx.setup.check(token) !== 'valid') return next(new AppError('setup-token-invalid', 403, 'This setup link is no longer valid: reload the page or get a new link.'));
    next();
  };

  /**
   * The meter's check, for signed-in users and the setup page's visitor (strengthAccess;
   * the CSRF token proves the page came from us), charged to their strength budget (429
   * once spent). The password is never echoed.
   */
  const strength: RequestHandler = async (req, res) => {
    const parsed = strengthBody.safeParse(req.body);
    if (!parsed.success) throw new AppError('invalid-body', 400, parsed.error.issues[0]?.message ?? 'Send {"password": "..."}.');
    if (parsed.data.password.includes('\0')) throw new AppError('invalid-body', 400, 'The password contains a NUL character.');
    const me = req.user as Express.User | undefined;
    const username = parsed.data.username?.trim().toLowerCase() || (me?.username ?? '');
    res.set('Cache-Control', 'no-store').json(await passwordStrength(parsed.data.password, username, secondFactorOf(me, username), strengthRequester(ctx, req)));
  };

  /**
   * Whether the password being checked is for an account with a second factor (8
   * characters then suffice): the signed-in user's own, or, for an administrator, the
   * user whose password they reset. Anyone else learns nothing about other accounts.
   */
  function secondFactorOf(me: Express.User | undefined, username: string): boolean {
    if (!me) return false;
    if (username === me.username) return ctx.twoFactor.isEnabled(me.id);
    if (!isAdmin(me.groups)) return false;
    const name = normalizeUsername(username);
    const target = name.ok ? ctx.users.findByUsername(name.username) : null;
    return target !== null && ctx.twoFactor.isEnabled(target.id);
  }

  return { page, submit, json, strengthAccess, strength };
}
