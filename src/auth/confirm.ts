// Asking a signed-in user for their password again (change password, re-authentication
// before dangerous admin actions): throttled like sign-in, so a stolen session cannot be
// used to guess the password, and audited.

import type { Request } from 'express';
import type { AppContext } from '../context.js';
import { AppError } from '../lib/errors.js';
import { clientIp } from '../theft/client-ip.js';

/** How long a sign-in or re-authentication counts as recent for dangerous actions. */
export const RECENT_AUTH_MS = 10 * 60_000;

export const WRONG_PASSWORD = 'That is not your current password.';

/**
 * Verifies `password` for the signed-in user; throws 429 (throttled) or 403
 * (`wrong-password`). On success, records the authentication time in the session.
 */
export async function confirmPassword(ctx: AppContext, req: Request, password: unknown): Promise<void> {
  const user = req.user as Express.User;
  const ip = clientIp(req);
  if (typeof password !== 'string' || password.length === 0) {
    throw new AppError('wrong-password', 403, 'Enter your current password.');
  }
  const verdict = ctx.regulator.check(ip, user.username);
  if (!verdict.allowed) {
    throw new AppError('throttled', 429, `Too many wrong passwords. Try again in ${verdict.retryAfter} seconds.`, { retryAfter: verdict.retryAfter });
  }
  let ok: boolean;
  try {
    ok = await ctx.accounts.checkPassword(user.id, password);
  } catch (err) {
    verdict.attempt.abandon();
    throw err;
  }
  ctx.audit.reauthenticated({ userId: user.id, username: user.username, ip, ok });
  if (!ok) {
    verdict.attempt.failed();
    throw new AppError('wrong-password', 403, WRONG_PASSWORD);
  }
  verdict.attempt.succeeded();
  if (req.session.auth) req.session.auth.at = ctx.clock.now();
}

/** Whether the session's last authentication is recent enough for a dangerous action. */
export function authIsRecent(ctx: AppContext, req: Request): boolean {
  const at = req.session?.auth?.at;
  return typeof at === 'number' && ctx.clock.now() - at < RECENT_AUTH_MS;
}
