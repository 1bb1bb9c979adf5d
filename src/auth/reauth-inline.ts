// Re-authentication inside the form that needed it. A page form needing a recent sign-in
// (a dangerous admin action, second factors, API tokens) that arrives over 10 minutes after
// the last one is answered with the password prompt itself (403), carrying what was
// submitted as hidden fields and posting back to the same action with the same CSRF token.
// With the password confirmed (throttled and audited as at /reauth, under a new session ID)
// the action goes on with those fields: nothing typed is lost. What was typed, a new
// password included, travels only in that one no-store answer and the browser's next POST:
// never in a URL, a log or the server's session.

import type { Request, RequestHandler, Response } from 'express';
import { safeLocalPath } from '../access/redirect.js';
import type { AppContext } from '../context.js';
import { renewSessionId } from '../http/session.js';
import { renderPage } from '../http/views.js';
import { AppError } from '../lib/errors.js';
import { confirmPassword, RECENT_AUTH_MS } from './confirm.js';

/** The prompt's password field; a name no form of gatehouse uses for anything else. */
export const REAUTH_FIELD = '_reauth_password';

/** At most this many characters are checked (as formPassword): longer is refused unhashed. */
const MAX_PASSWORD = 4096;

export interface InlineReauthOptions {
  /** The page's CSRF token (the same one the submitted form carried). */
  csrfToken(req: Request): string;
  /** Where "Cancel" leads: the page the form was on. */
  cancelTo(req: Request): string;
}

/** A urlencoded page form (not the JSON of passkey registration, which goes to /reauth). */
export function isPageForm(req: Request): boolean {
  return typeof req.is('application/x-www-form-urlencoded') === 'string' && typeof req.body === 'object' && req.body !== null;
}

/** Removes the prompt's password from a body, so no handler ever sees it. */
export function takeReauthPassword(req: Request): unknown {
  const body = req.body as Record<string, unknown> | undefined;
  if (!body || typeof body !== 'object') return undefined;
  const value = body[REAUTH_FIELD];
  delete body[REAUTH_FIELD];
  return value;
}

/** The submitted fields to send again, in order (repeated fields such as group checkboxes stay repeated). */
function resubmitted(req: Request): Array<{ name: string; value: string }> {
  const body = req.body as Record<string, unknown>;
  return Object.entries(body)
    .filter(([name]) => name !== '_csrf' && name !== REAUTH_FIELD)
    .flatMap(([name, value]) => (Array.isArray(value) ? value : [value]).filter((v): v is string => typeof v === 'string').map((v) => ({ name, value: v })));
}

/**
 * For a page form whose session's last authentication is not recent: the prompt (403), or
 * with the prompt's password the confirmation, a new session ID and on to the action.
 */
export function inlineReauth(ctx: AppContext, options: InlineReauthOptions): RequestHandler {
  const prompt = (req: Request, res: Response, status: number, error?: string): void => {
    renderPage(
      res,
      'reauth.njk',
      {
        title: 'Confirm it is you',
        user: req.user,
        csrfToken: options.csrfToken(req),
        minutes: RECENT_AUTH_MS / 60_000,
        action: safeLocalPath(req.originalUrl) ?? req.path,
        fields: resubmitted(req),
        passwordField: REAUTH_FIELD,
        cancel: options.cancelTo(req),
        error,
      },
      status,
    );
  };

  return async (req, res, next) => {
    const password = takeReauthPassword(req);
    if (password === undefined) return prompt(req, res, 403);
    if (typeof password !== 'string' || password.length > MAX_PASSWORD) return prompt(req, res, 400, 'Enter your password (one value, at most 256 characters).');
    try {
      await confirmPassword(ctx, req, password);
    } catch (err) {
      if (!(err instanceof AppError) || (err.status !== 403 && err.status !== 429)) return next(err);
      if (err.retryAfter !== undefined) res.set('Retry-After', String(err.retryAfter));
      return prompt(req, res, err.status, err.publicMessage);
    }
    try {
      // A confirmed password is a new authentication: the session continues under a new ID.
      renewSessionId(ctx, req, res, ctx.clock.now());
    } catch (err) {
      return next(err);
    }
    // The layout's sign-out form must carry the new session's token.
    const nav = res.locals.nav as { csrfToken?: string } | undefined;
    if (nav) nav.csrfToken = options.csrfToken(req);
    next();
  };
}
