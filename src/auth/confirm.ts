// Asking a signed-in user for their password again (change password, re-authentication
// before dangerous admin actions): throttled like sign-in, so a stolen session cannot be
// used to guess the password, and audited.

import type { Request } from 'express';
import type { AppContext } from '../context.js';
import { AppError } from '../lib/errors.js';
import { authLevel } from '../sessions/types.js';
import { clientIp } from '../theft/client-ip.js';

/** How long a sign-in or re-authentication counts as recent for dangerous actions. */
export const RECENT_AUTH_MS = 10 * 60_000;

export const WRONG_PASSWORD = 'That is not your current password.';

/**
 * Verifies `password` for the signed-in user; throws 429 (throttled) or 403
 * (`wrong-password`). The caller renews the session ID if the confirmation should count as recent.
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
  // Nothing is granted here: a confirmed password makes a session "recent" only under a new
  // ID (renewSessionId), or a copy of the cookie would share the owner's fresh confirmation.
}

/** Whether the session's last authentication is recent enough for a dangerous action. */
export function authIsRecent(ctx: AppContext, req: Request): boolean {
  const at = req.session?.auth?.at;
  return typeof at === 'number' && ctx.clock.now() - at < RECENT_AUTH_MS;
}

/**
 * What this session still lacks for a change to how the account is protected (second
 * factors, recovery codes, remembered devices, API tokens, the password; ASVS 6.4, 7.4.3):
 * 'second-factor' when the account has a second factor and this session has not passed it
 * (a password-only session, maybe signed in before the factor existed, must not take the
 * factor over); 'recent-auth' when `recent` and the last authentication is over 10 minutes
 * old; else 'none'. A session counts as having passed the factor for its whole life (its ID
 * was renewed at that moment, so the cookie itself stands for the proof); a remembered
 * device counts too, as at sign-in.
 */
export function missingForSensitiveChange(ctx: AppContext, req: Request, options: { recent: boolean }): 'none' | 'second-factor' | 'recent-auth' {
  const user = req.user as Express.User | undefined;
  if (!user) return 'recent-auth'; // fail closed (requireSession runs first anyway)
  if (authLevel(req.session?.auth) !== 2 && ctx.twoFactor.isEnabled(user.id)) return 'second-factor';
  if (options.recent && !authIsRecent(ctx, req)) return 'recent-auth';
  return 'none';
}
