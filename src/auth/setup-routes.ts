// HTTP adapters for the first-run setup page, where the first administrator is created.

import type { Request, RequestHandler, Response } from 'express';
import { z } from 'zod';
import type { AppContext } from '../context.js';
import type { Guards } from '../http/guards.js';
import { renderPage } from '../http/views.js';
import { formatDuration } from '../lib/duration.js';
import { AppError } from '../lib/errors.js';
import { clientIp } from '../theft/client-ip.js';
import { strengthRequester } from '../http/rate-limit.js';
import { ADMIN_GROUP } from '../users/groups.js';
import type { SetupTokenState } from './setup.js';

const STATE_MESSAGES: Record<Exclude<SetupTokenState, 'valid'>, [number, string]> = {
  invalid: [403, 'This setup link is not valid. Use the newest link from the server log, or create an administrator with "npx gatehouse user add NAME --group admins".'],
  expired: [403, 'This setup link has expired. Get a new one with "npx gatehouse setup-link" (or restart gatehouse), or use "npx gatehouse user add NAME --group admins".'],
  used: [403, 'This setup link was already used.'],
  'setup-complete': [410, 'Setup is complete: an account already exists. Sign in instead.'],
};

const text = (field: string, max: number) => z.string({ error: `${field} must be a single text value.` }).max(max, { error: `${field} is too long.` });
const setupForm = z.object({
  token: text('The setup token', 200),
  username: text('The username', 256),
  display_name: text('The display name', 256).optional(),
  password: text('The password', 4096),
  password_confirm: text('The password confirmation', 4096),
});

export function setupRoutes(ctx: AppContext, guards: Guards) {
  function unavailable(res: Response, state: Exclude<SetupTokenState, 'valid'>): void {
    const [status, message] = STATE_MESSAGES[state];
    renderPage(res, 'message.njk', { title: 'Setup unavailable', message, link: state === 'setup-complete' ? '/login' : undefined }, status);
  }

  function showForm(req: Request, res: Response, status: number, values: { token: string; username?: string; displayName?: string; error?: string }): void {
    const lifetime = formatDuration(ctx.config.setup.token_lifetime);
    // Said before the account exists: what the two_factor policy will ask right after the first sign-in.
    const { required_for_groups: groups, required_outside_networks: networks } = ctx.config.two_factor;
    const secondFactor = { admins: groups.includes(ADMIN_GROUP), outsideNetworks: networks.length > 0 };
    renderPage(res, 'setup.njk', { title: 'Set up gatehouse', csrfToken: guards.csrfToken(req), lifetime, secondFactor, ...values }, status);
  }

  const page: RequestHandler = (req, res) => {
    const token = typeof req.query.token === 'string' ? req.query.token : '';
    const state = ctx.setup.check(token);
    if (state !== 'valid') return unavailable(res, state);
    showForm(req, res, 200, { token });
  };

  const submit: RequestHandler = async (req, res) => {
    const parsed = setupForm.safeParse(req.body ?? {});
    if (!parsed.success) {
      const token = typeof req.body?.token === 'string' ? (req.body.token as string) : '';
      return showForm(req, res, 400, { token, error: parsed.error.issues[0]?.message ?? 'The form was not filled in correctly.' });
    }
    const form = parsed.data;
    const state = ctx.setup.check(form.token);
    if (state !== 'valid') {
      ctx.audit.setupRejected({ ip: clientIp(req), reason: state });
      return unavailable(res, state);
    }
    const values = { token: form.token, username: form.username, displayName: form.display_name ?? '' };
    if (form.password !== form.password_confirm) return showForm(req, res, 400, { ...values, error: 'The two passwords do not match.' });
    try {
      const user = await ctx.accounts.create({
        username: form.username,
        password: form.password,
        displayName: form.display_name ?? '',
        groups: [ADMIN_GROUP],
        by: 'setup',
        requester: strengthRequester(ctx, req),
        guard: () => {
          if (!ctx.setup.consume(form.token)) throw new AppError('setup-token-used', 403, STATE_MESSAGES.used[1]);
        },
      });
      ctx.audit.setupCompleted({ userId: user.id, username: user.username, ip: clientIp(req) });
      ctx.log.info({ event: 'setup-completed', user: user.username }, 'first administrator created');
      res.redirect(303, '/login?notice=setup');
    } catch (err) {
      // A refused password, or too many password checks (429): the form again, token unused.
      if (!(err instanceof AppError) || (err.status !== 400 && err.status !== 429)) throw err;
      if (err.retryAfter !== undefined) res.set('Retry-After', String(err.retryAfter));
      return showForm(req, res, err.status, { ...values, error: err.publicMessage });
    }
  };

  return { page, submit };
}
