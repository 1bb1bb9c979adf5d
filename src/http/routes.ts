// The route table: every path, its method, whether it loads the session, and the named
// guards that protect it, in one place.

import type { RequestHandler } from 'express';
import { homeRoutes } from '../account/home.js';
import { loginRoutes } from '../auth/login-routes.js';
import type { createPassport } from '../auth/passport.js';
import { setupRoutes } from '../auth/setup-routes.js';
import type { AppContext } from '../context.js';
import type { Guards } from './guards.js';
import { healthRoute } from './health.js';

export interface Route {
  method: 'get' | 'post';
  path: string;
  /** false: answered before the session middleware (no cookie read, no store access). */
  session: boolean;
  chain: RequestHandler[];
}

export function routeTable(ctx: AppContext, g: Guards, passport: ReturnType<typeof createPassport>): Route[] {
  const login = loginRoutes(ctx, g, passport);
  const setup = setupRoutes(ctx, g);
  const account = homeRoutes(ctx, g);
  return [
    { method: 'get', path: '/healthz', session: false, chain: [healthRoute(ctx)] },

    { method: 'get', path: '/login', session: true, chain: [g.requireSafeTransport, login.page] },
    { method: 'post', path: '/login', session: true, chain: [g.requireSafeTransport, g.form, g.sameOrigin, login.csrf, login.submit] },
    { method: 'post', path: '/logout', session: true, chain: [g.form, login.skipIfSignedOut, g.sameOrigin, g.requireCsrf, login.logout] },

    { method: 'get', path: '/setup', session: true, chain: [g.requireSafeTransport, setup.page] },
    { method: 'post', path: '/setup', session: true, chain: [g.requireSafeTransport, g.form, g.sameOrigin, g.requireCsrf, setup.submit] },

    { method: 'get', path: '/', session: true, chain: [g.requireSession, account.home] },
  ];
}
