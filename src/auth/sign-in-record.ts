// Recording a completed sign-in (password, second step, passkey), the same for every path.

import type { Request } from 'express';
import type { AppContext } from '../context.js';
import { addFlash } from '../http/flash.js';
import { formatTime } from '../http/views.js';
import { handleOf, hashSessionId } from '../sessions/store.js';

/**
 * The bookkeeping of a completed sign-in (password, second step, passkey): counted, the
 * theft notices kept for the user shown once, audited. Returns the new session's handle.
 */
export function recordSignIn(ctx: AppContext, req: Request, user: { id: number; username: string }, ip: string): string {
  ctx.metrics.login('succeeded');
  const session = handleOf(hashSessionId(req.sessionID));
  for (const n of ctx.sessions.takeTheftNotices(user.id)) {
    addFlash(
      req,
      `A session of yours was ended on ${formatTime(n.at)} because it was used from ${n.seenIp}, not from ${n.boundIp} where it was signed in. If that was not you, change your password.`,
      'warning',
    );
  }
  ctx.audit.loginSucceeded({ userId: user.id, username: user.username, ip, session, remember: req.session.auth?.remember ?? false });
  return session;
}
