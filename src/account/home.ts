// The signed-in home page: the household's services this member may open, who you are,
// your groups, this session, and sign out.

import type { RequestHandler } from 'express';
import type { AppContext } from '../context.js';
import type { Guards } from '../http/guards.js';
import { renderPage } from '../http/views.js';
import { createServiceDirectory } from '../portal/services.js';
import { expiresAt, hashSessionId, handleOf } from '../sessions/store.js';
import { authLevel } from '../sessions/types.js';
import { clientIp } from '../theft/client-ip.js';
import { isAdmin } from '../users/groups.js';

export function homeRoutes(ctx: AppContext, guards: Guards) {
  const directory = createServiceDirectory(ctx.config.portal.services, ctx.access);

  const home: RequestHandler = (req, res) => {
    const user = req.user as Express.User;
    const live = ctx.sessions.lookup(req.sessionID);
    const services = directory.configured
      ? directory.visibleTo({ username: user.username, groups: user.groups, level: authLevel(req.session.auth), hasSecondFactor: ctx.twoFactor.isEnabled(user.id) }, clientIp(req))
      : null;
    renderPage(res, 'home.njk', {
      title: 'Signed in',
      user,
      services,
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
