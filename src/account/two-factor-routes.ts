// HTTP adapters for /account/two-factor: the status page, setting up an authenticator app
// (QR code, confirm with a code), recovery codes (shown once) and turning second factors
// off. The rules (secrets sealed, codes hashed, audit, the first factor ending the other
// sessions) live in src/twofactor. After a later change of factors the page offers to sign
// out the user's other sessions (ASVS 7.4.3).

import type { Request, RequestHandler, Response } from 'express';
import { z } from 'zod';
import { createSecondFactorPolicy, type SecondFactorPolicy } from '../twofactor/policy.js';
import { loginWithSecondFactor } from '../auth/second-factor-routes.js';
import type { AppContext } from '../context.js';
import { addFlash } from '../http/flash.js';
import { formText, parseForm } from '../http/form-fields.js';
import type { Guards } from '../http/guards.js';
import { renderPage } from '../http/views.js';
import { AppError } from '../lib/errors.js';
import { clientIp, isLoopbackHost } from '../theft/client-ip.js';
import type { Enrollment } from '../twofactor/totp.js';
import { ADMIN_GROUP } from '../users/groups.js';
import { otherSessionCount } from './my-sessions.js';

const confirmForm = z.object({ code: formText('The code', 32) });

declare module 'express-session' {
  interface SessionData {
    /** Factors were just added or removed: the next two-factor page offers "Sign out your other sessions". */
    offerSignOutOthers?: boolean;
  }
}

/** After adding (not the first) or removing a factor: the next /account/two-factor offers to end the other sessions. */
export function offerSignOutOthers(req: Request): void {
  req.session.offerSignOutOthers = true;
}

/** For a message after the first factor: how many other sessions it ended. */
export const signedOutNote = (n: number): string =>
  n > 0 ? ` Your ${n} other ${n === 1 ? 'session was' : 'sessions were'} signed out: sign in there again with the second step.` : '';

const who = (user: Express.User) => `user:${user.username}`;

/** What one answer shows besides the status: a new enrollment, new codes, an error. */
interface TwoFactorExtras {
  /** Just begun: the QR code and the secret, on this answer only. */
  enrollment?: { qrDataUri: string; secretGroups: string[]; expiresAt: number };
  /** Just generated: shown this once, never again. */
  recoveryCodes?: string[];
  /** Other live sessions of the user, offered to be signed out (after a change of factors). */
  otherSessions?: number;
  error?: string;
}

/** The secret in groups of four, as apps show it, for typing it in by hand. */
function groupsOf(secret: string): string[] {
  return secret.match(/.{1,4}/g) ?? [];
}

/** The QR code as an inline image: CSP allows data: images; no third-party service ever sees the secret. */
function enrollmentView(e: Enrollment): NonNullable<TwoFactorExtras['enrollment']> {
  return { qrDataUri: `data:image/svg+xml;base64,${Buffer.from(e.qrSvg, 'utf8').toString('base64')}`, secretGroups: groupsOf(e.secret), expiresAt: e.expiresAt };
}

/**
 * Why this user must enroll before anything else (the two_factor policy, for the page to say
 * so), or null when they have a factor or are here by choice.
 */
function enrollmentReasons(policy: SecondFactorPolicy, user: Express.User, ip: string, enabled: boolean) {
  const reasons = enabled ? null : policy.reasons(user, ip);
  if (!reasons) return null;
  return { admins: reasons.groups.includes(ADMIN_GROUP), groups: reasons.groups.filter((g) => g !== ADMIN_GROUP), outsideNetworks: reasons.outsideNetworks, ip };
}

export function twoFactorRoutes(ctx: AppContext, guards: Guards) {
  const policy = createSecondFactorPolicy(ctx.config.two_factor);

  function render(req: Request, res: Response, status: number, extras: TwoFactorExtras = {}): void {
    const user = req.user as Express.User;
    const factors = ctx.twoFactor.status(user.id);
    const required = enrollmentReasons(policy, user, clientIp(req), factors.enabled);
    // Until enrolled, My account and Admin only lead back here: the layout leaves them out.
    if (res.locals.nav) res.locals.nav.enrolling = required !== null;
    renderPage(
      res,
      'account-two-factor.njk',
      {
        title: required ? 'Set up a second factor' : 'Two-factor sign-in',
        user,
        csrfToken: guards.csrfToken(req),
        status: factors,
        required,
        // WebAuthn works only in a secure context: HTTPS, or localhost on this machine.
        passkeysPossible: req.secure || isLoopbackHost(req.hostname),
        ...extras,
      },
      status,
    );
  }

  /** The offer to sign out the other sessions, when there are any. */
  const offer = (req: Request): Pick<TwoFactorExtras, 'otherSessions'> => ({ otherSessions: otherSessionCount(ctx, (req.user as Express.User).id, req.sessionID) });

  const page: RequestHandler = (req, res) => {
    const offered = req.session.offerSignOutOthers === true;
    if (offered) delete req.session.offerSignOutOthers;
    render(req, res, 200, offered ? offer(req) : {});
  };

  /** Starts (or restarts) enrolment: a new secret each time, shown on this answer only. */
  const beginTotp: RequestHandler = async (req, res) => {
    const user = req.user as Express.User;
    let enrollment: Enrollment;
    try {
      enrollment = await ctx.twoFactor.totp.begin(user, clientIp(req));
    } catch (err) {
      if (err instanceof AppError && err.status < 500) return render(req, res, err.status, { error: err.publicMessage });
      throw err;
    }
    render(req, res, 200, { enrollment: enrollmentView(enrollment) });
  };

  /** Activates the app with a current code; the recovery codes are then shown once (201, no-store). */
  const confirmTotp: RequestHandler = async (req, res) => {
    const user = req.user as Express.User;
    const ip = clientIp(req);
    let code: string;
    try {
      code = parseForm(confirmForm, req.body).code;
    } catch (err) {
      if (err instanceof AppError && err.status < 500) return render(req, res, 400, { error: err.publicMessage });
      throw err;
    }
    // The account's first factor ends the user's other sessions (this one stays).
    const result = ctx.twoFactor.confirmTotp(user, code, ip, req.sessionID);
    if (!result.ok) {
      const message = {
        invalid: 'That code is not right. Enter the six digits your app shows now (check that the phone’s clock is correct).',
        expired: 'The set-up took longer than 15 minutes. Start again to get a new QR code.',
        'not-pending': 'There is no set-up waiting for a code. Start again.',
      }[result.reason];
      return render(req, res, result.reason === 'invalid' ? 400 : 409, { error: message });
    }
    const codes = ctx.twoFactor.recoveryCodes.generate(user, who(user), ip);
    // The code just typed is a second factor: this session becomes level 2 under a new ID
    // (no second prompt for the page that required enrollment).
    loginWithSecondFactor(ctx, req, res, user, 'totp', req.session.auth?.remember ?? false);
    if (result.sessionsRevoked > 0) addFlash(req, `Two-factor sign-in is on.${signedOutNote(result.sessionsRevoked)}`);
    render(req, res, 201, { recoveryCodes: codes, ...(result.first ? {} : offer(req)) });
  };

  /** A new set of recovery codes (the old ones stop working), shown once. */
  const regenerateCodes: RequestHandler = (req, res) => {
    const user = req.user as Express.User;
    if (!ctx.twoFactor.isEnabled(user.id)) {
      return render(req, res, 409, { error: 'Recovery codes go with an authenticator app: set one up first.' });
    }
    const codes = ctx.twoFactor.recoveryCodes.generate(user, who(user), clientIp(req));
    render(req, res, 201, { recoveryCodes: codes, ...offer(req) });
  };

  /** Turns second factors off (the app and the recovery codes), or cancels a set-up in progress. */
  const remove: RequestHandler = (req, res) => {
    const user = req.user as Express.User;
    const wasOn = ctx.twoFactor.isEnabled(user.id);
    // The user's own choice: this and the other sessions stay; the page offers to end the others.
    const removed = ctx.twoFactor.reset(user, who(user), clientIp(req), { endSessions: false });
    if (wasOn) offerSignOutOthers(req);
    addFlash(
      req,
      wasOn
        ? 'Two-factor sign-in is off: the authenticator app and the recovery codes no longer work. Your password alone now signs you in.'
        : removed.totp
          ? 'The set-up was cancelled; two-factor sign-in stays off.'
          : 'Two-factor sign-in was already off.',
    );
    res.redirect(303, '/account/two-factor');
  };

  return { page, beginTotp, confirmTotp, regenerateCodes, remove };
}
