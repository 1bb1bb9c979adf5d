// HTTP adapters for /account/two-factor: the status page, setting up an authenticator app
// (QR code, confirm with a code), recovery codes (shown once) and turning second factors
// off. The rules (secrets sealed, codes hashed, audit) live in src/twofactor.

import type { Request, RequestHandler, Response } from 'express';
import { z } from 'zod';
import { loginWithSecondFactor } from '../auth/second-factor-routes.js';
import type { AppContext } from '../context.js';
import { addFlash } from '../http/flash.js';
import { formText, parseForm } from '../http/form-fields.js';
import type { Guards } from '../http/guards.js';
import { renderPage } from '../http/views.js';
import { AppError } from '../lib/errors.js';
import { clientIp } from '../theft/client-ip.js';
import type { Enrollment } from '../twofactor/totp.js';

const confirmForm = z.object({ code: formText('The code', 32) });

const who = (user: Express.User) => `user:${user.username}`;

/** What one answer shows besides the status: a new enrollment, new codes, an error. */
interface TwoFactorExtras {
  /** Just begun: the QR code and the secret, on this answer only. */
  enrollment?: { qrDataUri: string; secretGroups: string[]; expiresAt: number };
  /** Just generated: shown this once, never again. */
  recoveryCodes?: string[];
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

export function twoFactorRoutes(ctx: AppContext, guards: Guards) {
  function render(req: Request, res: Response, status: number, extras: TwoFactorExtras = {}): void {
    const user = req.user as Express.User;
    renderPage(res, 'account-two-factor.njk', { title: 'Two-factor sign-in', user, csrfToken: guards.csrfToken(req), status: ctx.twoFactor.status(user.id), ...extras }, status);
  }

  const page: RequestHandler = (req, res) => render(req, res, 200);

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
    const result = ctx.twoFactor.totp.confirm(user, code, ip);
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
    render(req, res, 201, { recoveryCodes: codes });
  };

  /** A new set of recovery codes (the old ones stop working), shown once. */
  const regenerateCodes: RequestHandler = (req, res) => {
    const user = req.user as Express.User;
    if (!ctx.twoFactor.isEnabled(user.id)) {
      return render(req, res, 409, { error: 'Recovery codes go with an authenticator app: set one up first.' });
    }
    const codes = ctx.twoFactor.recoveryCodes.generate(user, who(user), clientIp(req));
    render(req, res, 201, { recoveryCodes: codes });
  };

  /** Turns second factors off (the app and the recovery codes), or cancels a set-up in progress. */
  const remove: RequestHandler = (req, res) => {
    const user = req.user as Express.User;
    const wasOn = ctx.twoFactor.isEnabled(user.id);
    const removed = ctx.twoFactor.reset(user, who(user), clientIp(req));
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
