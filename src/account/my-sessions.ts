// A user's own sessions as shown on /account and by /api/v1/me/sessions: live ones with a
// device name and "this device" marked, recently ended ones with their reason; ending one
// of them, or all but the current one.

import type { AppContext } from '../context.js';
import { notFound } from '../lib/errors.js';
import { deviceLabel } from '../sessions/device.js';
import { handleOf, hashSessionId } from '../sessions/store.js';
import type { SessionInfo } from '../sessions/types.js';

export interface MySession extends SessionInfo {
  device: string;
  current: boolean;
}

/** How many ended sessions the account page lists ("recently ended"). */
export const RECENTLY_ENDED = 20;

export function mySessions(ctx: AppContext, userId: number, currentSid: string | null): { live: MySession[]; ended: MySession[] } {
  const current = currentSid ? handleOf(hashSessionId(currentSid)) : null;
  const view = (s: SessionInfo): MySession => ({ ...s, device: deviceLabel(s.userAgent), current: s.handle === current && s.deletedAt === null });
  const live = ctx.sessions.list({ userId, limit: 200 }).map(view);
  const ended = ctx.sessions.listEnded({ userId, limit: RECENTLY_ENDED }).map(view);
  // The current session first, then the most recently used.
  live.sort((a, b) => Number(b.current) - Number(a.current) || b.lastSeenAt - a.lastSeenAt);
  return { live, ended };
}

/** Ends one of the user's own sessions (404 for any handle that is not theirs and live). */
export function revokeMySession(ctx: AppContext, user: { id: number; username: string }, handle: string): SessionInfo {
  const ended = ctx.sessions.revokeOwn(user.id, handle, 'revoked', `user:${user.username}`);
  if (!ended) throw notFound('session-not-found', 'There is no such live session of yours.');
  return ended;
}

/** "Sign out everywhere else": every session of the user but `keepSid` (all when null). */
export function revokeMyOtherSessions(ctx: AppContext, user: { id: number; username: string }, keepSid: string | null): number {
  return ctx.sessions.revokeUserSessions(user.id, 'revoked', { by: `user:${user.username}`, ...(keepSid ? { exceptSid: keepSid } : {}) });
}

/** How many live sessions the user has besides `currentSid` (the offer to sign them out after a change of factors). */
export function otherSessionCount(ctx: AppContext, userId: number, currentSid: string): number {
  const current = handleOf(hashSessionId(currentSid));
  return ctx.sessions.list({ userId, limit: 200 }).filter((s) => s.handle !== current).length;
}
