// The second step of sign-in (/login/second-factor): after a correct password, an account
// with a second factor waits here, NOT signed in, until a TOTP or recovery code is right;
// and a signed-in password-only (level 1) session of a user who has a factor steps up here
// without the password again (two_factor rules, admin pages).

import type { Request, RequestHandler, Response } from 'express';
import { z } from 'zod';
import { safeLocalPath, safeRedirectTarget } from '../access/redirect.js';
import type { AppContext } from '../context.js';
import { addFlash } from '../http/flash.js';
import { formText } from '../http/form-fields.js';
import type { Guards } from '../http/guards.js';
import { renderPage } from '../http/views.js';
import { handleOf, hashSessionId } from '../sessions/store.js';
import { authLevel, type PendingSecondFactor, type RememberedMethod, type SecondFactorMethod } from '../sessions/types.js';
import { clientIp } from '../theft/client-ip.js';
import type { User } from '../users/repository.js';
import { rememberDeviceMs, rememberThisDevice } from './remember-device-cookie.js';
import { destinationAfterSignIn } from './after-sign-in.js';
import { createSecondFactorPolicy } from '../twofactor/policy.js';
import { signIn } from './sign-in.js';
import { recordSignIn } from './sign-in-record.js';

/** Whole days for the checkbox label; at least 1 when on, 0 when off. */
const rememberDays = (ms: number): number => (ms > 0 ? Math.max(1, Math.floor(ms / 86_400_000)) : 0);

/** How long a correct password waits for its second factor. */
export const PENDING_SECOND_FACTOR_MS = 5 * 60_000;

/** One message for every wrong code: nothing tells a replayed code from a mistyped one. */
export const WRONG_CODE = 'That code is not valid. Enter the current code from your app, or an unused recovery code.';

const codeForm = z.object({
  code: formText('The code', 64),
  rd: formText('rd', 2048).optional(),
  remember_device: z.literal('on', { error: 'remember_device must be "on" or absent.' }).optional(),
});

/**
 * After a correct password for an account with a second factor: the pre-login session
 * ends and a new one (new ID) holds only the pending state. Nobody is signed in yet.
 */
export function beginSecondFactor(req: Request, pending: PendingSecondFactor): Promise<void> {
  return new Promise((resolve, reject) => {
    req.session.regenerate((err) => {
      if (err) return reject(err);
      req.session.pendingSecondFactor = pending;
      req.session.save((saveErr) => (saveErr ? reject(saveErr) : resolve()));
    });
  });
}

export function secondFactorRoutes(ctx: AppContext, guards: Guards) {
  const cookieDomain = ctx.config.session.cookie_domain;
  const policy = createSecondFactorPolicy(ctx.config.two_factor);
  /** A portal URL on the cookie domain, or a path inside gatehouse. */
  const target = (rd: unknown): string | null => safeRedirectTarget(rd, cookieDomain) ?? safeLocalPath(rd);

  /** The valid pending state of this session, or null (an expired one is dropped). */
  function pendingOf(req: Request): PendingSecondFactor | null {
    const pending = req.session?.pendingSecondFactor;
    if (!pending) return null;
    if (ctx.clock.now() - pending.at >= PENDING_SECOND_FACTOR_MS) {
      delete req.session.pendingSecondFactor;
      return null;
    }
    return pending;
  }

  /** A signed-in level-1 user who has a factor: may step up here. */
  const canStepUp = (req: Request): boolean => {
    const user = req.user as User | undefined;
    return !!user && authLevel(req.session.auth) !== 2 && ctx.twoFactor.isEnabled(user.id);
  };

  /** The user finishing (or stepping up) sign-in. */
  const stepUser = (req: Request): number | undefined => req.session?.pendingSecondFactor?.userId ?? (req.user as User | undefined)?.id;

  /** Whether that user has an authenticator app (else the code field is for recovery codes). */
  const hasApp = (req: Request): boolean => {
    const userId = stepUser(req);
    return userId !== undefined && ctx.twoFactor.status(userId).totp === 'active';
  };

  /** Whether that user has a passkey: the page then offers it. */
  const hasPasskey = (req: Request): boolean => {
    const userId = stepUser(req);
    return userId !== undefined && ctx.twoFactor.passkeys.count(userId) > 0;
  };

  function showForm(req: Request, res: Response, status: number, extra: { error?: string; rd?: string | null; stepUp: boolean }): void {
    renderPage(
      res,
      'second-factor.njk',
      { title: 'Second step', csrfToken: guards.csrfToken(req), error: extra.error, rd: extra.rd ?? undefined, stepUp: extra.stepUp, rememberDeviceDays: rememberDays(rememberDeviceMs(ctx)), passkey: hasPasskey(req), app: hasApp(req) },
      status,
    );
  }

  const expired = (res: Response, rd: string | null): void =>
    res.redirect(303, `/login?notice=second_factor_expired${rd ? `&rd=${encodeURIComponent(rd)}` : ''}`);

  const page: RequestHandler = (req, res) => {
    const rd = target(req.query.rd);
    const pending = pendingOf(req);
    if (pending) return showForm(req, res, 200, { rd: pending.rd, stepUp: false });
    const user = req.user as User | undefined;
    if (!user) return expired(res, rd);
    if (canStepUp(req)) return showForm(req, res, 200, { rd, stepUp: true });
    // Nothing to step up: level 2 already, or no factor (policy guards send those to enroll).
    res.redirect(303, destinationAfterSignIn(ctx, policy, user, clientIp(req), rd));
  };

  /** A stale form (session gone or expired) goes back to /login instead of an error page. */
  const csrf: RequestHandler = (req, res, next) => {
    if (guards.csrfValid(req)) return next();
    const rd = target((req.body as Record<string, unknown> | undefined)?.rd);
    if (!pendingOf(req) && !canStepUp(req)) return expired(res, rd);
    showForm(req, res, 403, { error: 'This form had expired or was not sent from this site. Please try again.', rd, stepUp: !!req.user });
  };

  const submit: RequestHandler = async (req, res) => {
    const ip = clientIp(req);
    const body = (req.body ?? {}) as Record<string, unknown>;
    const pending = pendingOf(req);
    const stepUp = !pending && canStepUp(req);
    const rd = pending ? pending.rd : target(body.rd);
    if (!pending && !stepUp) return expired(res, rd);
    const user = pending ? ctx.users.findById(pending.userId) : (req.user as User);
    if (!user || user.disabled) {
      delete req.session.pendingSecondFactor;
      return expired(res, null);
    }
    const parsed = codeForm.safeParse(body);
    if (!parsed.success) return showForm(req, res, 400, { error: parsed.error.issues[0]?.message, rd, stepUp });
    const verdict = ctx.twoFactor.verify(user, parsed.data.code, ip);
    if (!verdict.ok) {
      if (verdict.reason === 'throttled') {
        res.set('Retry-After', String(verdict.retryAfter));
        ctx.log.info({ event: 'second-factor-throttled', user: user.username, ip, retryAfter: verdict.retryAfter }, 'second factor throttled');
        return showForm(req, res, 429, { error: `Too many wrong codes. Try again in ${verdict.retryAfter} seconds.`, rd, stepUp });
      }
      ctx.log.info({ event: 'second-factor-failed', user: user.username, ip }, 'second factor refused');
      return showForm(req, res, 401, { error: WRONG_CODE, rd, stepUp });
    }
    // A new authentication: a new session ID, level 2 (src/auth/passport.ts).
    const remember = pending ? pending.remember : (req.session.auth?.remember ?? false);
    // The pending state is used up by this sign-in; a step-up rests on the live session.
    loginWithSecondFactor(ctx, req, res, user, verdict.method, remember, pending ? { epoch: pending.epoch, consume: true } : {});
    // Also on a step-up of a password-only session: it has just passed the factor, which is
    // all a remembered device stands for (ASVS 6.4: what it may not do is change the factors
    // without passing one, see missingForSensitiveChange).
    if (parsed.data.remember_device === 'on') rememberThisDevice(ctx, req, res, user.id);
    // A completed sign-in is recorded; a step-up of a signed-in session is not a new one.
    const session = pending ? recordSignIn(ctx, req, user, ip) : handleOf(hashSessionId(req.sessionID));
    if (verdict.method === 'recovery-code') {
      addFlash(
        req,
        verdict.remaining > 0
          ? `You signed in with a recovery code. It cannot be used again; ${verdict.remaining} unused recovery code${verdict.remaining === 1 ? '' : 's'} left.`
          : 'You signed in with your last recovery code. Create new recovery codes on your account page now.',
        'warning',
      );
    }
    ctx.log.info({ event: stepUp ? 'second-factor-step-up' : 'login-succeeded', user: user.username, ip, session, method: verdict.method }, stepUp ? 'second factor confirmed' : 'signed in');
    res.redirect(303, destinationAfterSignIn(ctx, policy, user, ip, rd));
  };

  return { page, csrf, submit };
}

/**
 * A new session ID at level 2 with the verified factor: a sign-in when `epoch` is given (the
 * pending state's, or read before a passwordless passkey was checked), else a step-up of the
 * request's signed-in session. Throws a 401 AppError when it may not be issued.
 */
export function loginWithSecondFactor(
  ctx: AppContext,
  req: Request,
  res: Response,
  user: User,
  method: SecondFactorMethod | RememberedMethod,
  remember: boolean,
  options: { passwordless?: boolean; epoch?: number; consume?: boolean } = {},
): void {
  signIn(ctx, req, res, user, { remember, secondFactor: method, ...options });
}
