// The signed-in home page: who you are, your groups, this session, and sign out.

import type { RequestHandler } from 'express';
import type { AppContext } from '../context.js';
import type { Guards } from '../http/guards.js';
import { renderPage } from '../http/views.js';
import { expiresAt, hashSessionId, handleOf } from '../sessions/store.js';
import { isAdmin } from '../users/groups.js';

export function homeRoutes(ctx: AppContext, guards: Guards) {
  const home: RequestHandler = (req, res) => {
    const user = req.user as Express.User;
    const live = ctx.sessions.lookup(req.sessionID);
    renderPage(res, 'home.njk', {
      title: 'Signed in',
      user,
      admin: isAdmin(user.groups),
      csrfToken: guards.csrfToken(req),
      session: live
        ? {
            handle: handleOf(hashSessionId(req.sessionID)),
            since: req.session.auth?.at ?? live.createdAt,
            ip: live.boundIp,
            expiresAt: expiresAt(live),
            remember: req.session.auth?.remember ?? false,
          }
        : null,
    });
  };
  return { home };
}
