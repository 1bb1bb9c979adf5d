// HTTP adapters for the admin sessions page: every user's live sessions (filter by user),
// the history of ended ones with their reasons, and revoking any live session.

import type { Request, RequestHandler, Response } from 'express';
import { z } from 'zod';
import type { AppContext } from '../context.js';
import { addFlash } from '../http/flash.js';
import type { Guards } from '../http/guards.js';
import { renderPage } from '../http/views.js';
import { AppError, notFound } from '../lib/errors.js';
import { deviceLabel } from '../sessions/device.js';
import { handleOf, hashSessionId } from '../sessions/store.js';
import { HANDLE_LENGTH } from '../sessions/types.js';
import { normalizeUsername } from '../users/username.js';
import { firstProblem, formText } from '../http/form-fields.js';
import { actor, adminReturnPath, frame } from './shared.js';

/** Ended sessions are kept for the retention period; the page shows the newest ones. */
const ENDED_SHOWN = 500;
const LIVE_SHOWN = 1000;

const filterQuery = z.object({
  user: formText('user', 256).optional(),
  state: z.enum(['live', 'ended', ''], { error: 'state must be "live" or "ended".' }).optional(),
});

const revokeForm = z.object({ return_to: formText('return_to', 2048).optional() });
const HANDLE = new RegExp(`^[0-9a-f]{${HANDLE_LENGTH}}$`);

export function adminSessionRoutes(ctx: AppContext, guards: Guards) {
  function render(req: Request, res: Response, status: number, locals: Record<string, unknown>): void {
    renderPage(res, 'admin-sessions.njk', { ...frame(req, guards, 'sessions', 'Sessions'), ...locals }, status);
  }

  const page: RequestHandler = (req, res) => {
    const parsed = filterQuery.safeParse(req.query);
    if (!parsed.success) return render(req, res, 400, { error: firstProblem(parsed.error), sessions: [], state: 'live', user: '' });
    const state = parsed.data.state === 'ended' ? 'ended' : 'live';
    const typedUser = parsed.data.user?.trim() ?? '';
    let userId: number | undefined;
    let shownUser = typedUser;
    if (typedUser !== '') {
      const name = normalizeUsername(typedUser);
      if (!name.ok) return render(req, res, 400, { error: `user: ${name.message}`, sessions: [], state, user: typedUser });
      const user = ctx.users.findByUsername(name.username);
      if (!user) return render(req, res, 200, { notice: `There is no user named "${name.username}".`, sessions: [], state, user: name.username });
      userId = user.id;
      shownUser = user.username;
    }
    const currentHandle = handleOf(hashSessionId(req.sessionID));
    const filter = userId !== undefined ? { userId } : {};
    const sessions = (state === 'ended' ? ctx.sessions.listEnded({ ...filter, limit: ENDED_SHOWN }) : ctx.sessions.list({ ...filter, limit: LIVE_SHOWN }))
      .map((s) => ({
        handle: s.handle,
        device: deviceLabel(s.userAgent),
        username: s.username,
        userId: s.userId,
        ip: s.boundIp,
        createdAt: s.createdAt,
        lastSeenAt: s.lastSeenAt,
        expiresAt: s.expiresAt,
        endedAt: s.deletedAt ?? s.expiresAt,
        reason: s.deleteReason ?? 'expired',
        current: s.handle === currentHandle,
      }));
    render(req, res, 200, { sessions, state, user: shownUser, returnTo: req.originalUrl });
  };

  const revoke: RequestHandler = (req, res) => {
    const handle = String(req.params.handle ?? '').toLowerCase();
    if (!HANDLE.test(handle)) throw notFound('session-not-found', 'There is no such session.');
    const parsed = revokeForm.safeParse(req.body ?? {});
    if (!parsed.success) throw new AppError('invalid-form', 400, firstProblem(parsed.error));
    const own = handle === handleOf(hashSessionId(req.sessionID));
    const ended = ctx.sessions.revokeByHandle(handle, 'revoked', actor(req));
    if (!ended) throw notFound('session-not-found', 'That session has already ended or does not exist.');
    // Ending the session this page runs in signs the administrator out: nothing to come back to.
    if (own) return res.redirect(303, '/login');
    addFlash(req, `Session ${handle}${ended.username ? ` of ${ended.username}` : ''} was ended.`);
    res.redirect(303, adminReturnPath(parsed.data.return_to, '/admin/sessions'));
  };

  return { page, revoke };
}

/** Live signed-in sessions right now (for the overview). */
export function liveSessionCount(ctx: AppContext): number {
  return ctx.sessions.countSignedIn();
}
