// Where a user goes once signed in (every sign-in path: password, second step, passkey): a
// new password first if one is due, then second-factor enrollment if the two_factor policy
// requires it, else the page they asked for.

import type { AppContext } from '../context.js';
import { passwordChangeRequired } from '../passwords/policy.js';
import type { SecondFactorPolicy } from '../twofactor/policy.js';
import type { User } from '../users/repository.js';

/** Where enrollment happens (src/account, the /account/two-factor pages). */
export const ENROLL_PATH = '/account/two-factor';

/**
 * Where a user goes once signed in: a new password first if one is due, then enrollment
 * if the policy requires a second factor they do not have, else on to `rd`.
 */
export function destinationAfterSignIn(ctx: AppContext, policy: SecondFactorPolicy, user: User, ip: string, rd: string | null): string {
  if (passwordChangeRequired(user, ctx.config.password.max_age, ctx.clock.now())) {
    return rd ? `/account/password?rd=${encodeURIComponent(rd)}` : '/account/password';
  }
  if (policy.required(user, ip) && !ctx.twoFactor.isEnabled(user.id)) return ENROLL_PATH;
  return rd ?? '/';
}
