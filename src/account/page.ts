// The /account page's content: profile, this user's sessions (live and recently ended),
// personal API tokens, "my data" and the deletion request, gathered for views/account.njk.

import type { Request, Response } from 'express';
import { passwordChangeRequired } from '../passwords/policy.js';
import type { AppContext } from '../context.js';
import type { Guards } from '../http/guards.js';
import { renderPage } from '../http/views.js';
import type { TokenInfo } from '../tokens/api-tokens.js';
import { isAdmin } from '../users/groups.js';
import { rememberedDevices } from '../auth/remember-device-cookie.js';
import { endedWhy } from './ended-why.js';
import { mySessions } from './my-sessions.js';

export const TOKEN_LIFETIME_DEFAULT_DAYS = 90;

/** Messages and one-time values shown in a section of the page after a form. */
export interface AccountPageExtras {
  tokenError?: string;
  deleteError?: string;
  /** A token just created: shown this once, never again. */
  newToken?: { token: string; info: TokenInfo };
  /** What the token form had, so a refused form keeps its values. */
  tokenForm?: { name: string; scope: string; expires_in_days: string };
}

export function tokenState(t: TokenInfo, now: number): 'revoked' | 'expired' | 'active' {
  if (t.revokedAt !== null) return 'revoked';
  return t.expiresAt <= now ? 'expired' : 'active';
}

export function renderAccount(ctx: AppContext, guards: Guards, req: Request, res: Response, extras: AccountPageExtras = {}, status = 200): void {
  const user = req.user as Express.User;
  const now = ctx.clock.now();
  const fresh = ctx.users.findById(user.id) ?? user;
  const { live, ended } = mySessions(ctx, user.id, req.sessionID ?? null);
  const admin = isAdmin(user.groups);
  renderPage(
    res,
    'account.njk',
    {
      title: 'My account',
      mainClass: 'wide',
      user: fresh,
      admin,
      csrfToken: guards.csrfToken(req),
      passwordChangeRequired: passwordChangeRequired(fresh, ctx.config.password.max_age, now),
      twoFactor: ctx.twoFactor.status(user.id),
      rememberedDevices: rememberedDevices(ctx).list(user.id),
      live,
      others: live.filter((s) => !s.current).length,
      ended: ended.map((s) => ({ ...s, reason: endedWhy(s, user.username) })),
      tokens: ctx.tokens.list(user.id).map((t) => ({ ...t, state: tokenState(t, now) })),
      scopes: admin ? ['read', 'write', 'admin'] : ['read', 'write'],
      tokenForm: extras.tokenForm ?? { name: '', scope: 'read', expires_in_days: String(TOKEN_LIFETIME_DEFAULT_DAYS) },
      ...extras,
    },
    status,
  );
}
