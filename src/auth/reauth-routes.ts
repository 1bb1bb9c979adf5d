// Re-authentication at /reauth: requireRecentAuth sends requests that are not page forms
// here (passkey registration; page forms get the prompt in their own answer, see
// reauth-inline.ts) when the last sign-in is over 10 minutes old; the password is confirmed
// (throttled and audited like sign-in) and the browser goes back to the page it came from.

import type { Request, RequestHandler, Response } from 'express';
import { z } from 'zod';
import { safeLocalPath } from '../access/redirect.js';
import type { AppContext } from '../context.js';
import { addFlash } from '../http/flash.js';
import type { Guards } from '../http/guards.js';
import { renderPage } from '../http/views.js';
import { AppError } from '../lib/errors.js';
import { formPassword, formText } from '../http/form-fields.js';
import { renewSessionId } from '../http/session.js';
import { confirmPassword, RECENT_AUTH_MS } from './confirm.js';

const DEFAULT_RETURN = '/admin';

const reauthForm = z.object({
  password: formPassword('The password'),
  rd: formText('rd', 2048).optional(),
});

/** Only a path inside gatehouse: re-authentication never sends anyone to another site. */
const returnPath = (rd: unknown): string => safeLocalPath(rd) ?? DEFAULT_RETURN;

export function reauthRoutes(ctx: AppContext, guards: Guards) {
  function showForm(req: Request, res: Response, status: number, rd: string, error?: string): void {
    renderPage(
      res,
      'reauth.njk',
      { title: 'Confirm it is you', csrfToken: guards.csrfToken(req), user: req.user, rd, minutes: RECENT_AUTH_MS / 60_000, error },
      status,
    );
  }

  const page: RequestHandler = (req, res) => showForm(req, res, 200, returnPath(req.query.rd));

  const submit: RequestHandler = async (req, res) => {
    const body = (req.body ?? {}) as Record<string, unknown>;
    const rd = returnPath(body.rd);
    const parsed = reauthForm.safeParse(body);
    if (!parsed.success) return showForm(req, res, 400, rd, parsed.error.issues[0]?.message);
    try {
      await confirmPassword(ctx, req, parsed.data.password);
    } catch (err) {
      if (!(err instanceof AppError) || (err.status !== 403 && err.status !== 429)) throw err;
      if (err.retryAfter !== undefined) res.set('Retry-After', String(err.retryAfter));
      return showForm(req, res, err.status, rd, err.publicMessage);
    }
    // A confirmed password is a new authentication: the session continues under a new ID.
    renewSessionId(ctx, req, res, ctx.clock.now());
    addFlash(req, 'Confirmed. Now repeat the action.');
    res.redirect(303, rd);
  };

  return { page, submit };
}
