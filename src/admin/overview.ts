// The admin start page: counts, pending deletion requests, the latest audit events (in
// words) and links to each admin area.

import type { RequestHandler } from 'express';
import type { AppContext } from '../context.js';
import type { Guards } from '../http/guards.js';
import { renderPage } from '../http/views.js';
import { describeEntries } from './audit.js';
import { liveSessionCount } from './sessions-page.js';
import { frame, userPath } from './shared.js';

export function adminOverviewRoutes(ctx: AppContext, guards: Guards) {
  const page: RequestHandler = (req, res) => {
    const users = ctx.users.list();
    const recent = describeEntries(ctx, ctx.auditLog.page({}, { limit: 10 }).entries);
    renderPage(res, 'admin-overview.njk', {
      ...frame(req, guards, 'overview', 'Administration'),
      counts: {
        users: users.length,
        disabled: users.filter((u) => u.disabled).length,
        sessions: liveSessionCount(ctx),
        bans: ctx.regulator.listBans().length,
      },
      requests: ctx.accounts.deletionRequests().map((u) => ({ ...u, path: userPath(u.username) })),
      recent,
    });
  };
  return { page };
}
