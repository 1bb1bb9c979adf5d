// The route table: every path, its method, whether it loads the session, and the named
// guards that protect it, in one place. Page chains read: transport, session, password
// current, role, recent authentication, form parsing, same-origin, CSRF, handler.

import type { RequestHandler } from 'express';
import { homeRoutes } from '../account/home.js';
import { passwordRoutes } from '../account/password-routes.js';
import { accountRoutes } from '../account/routes.js';
import { createApiGuards } from '../api/auth.js';
import { loginRoutes } from '../auth/login-routes.js';
import type { createPassport } from '../auth/passport.js';
import { setupRoutes } from '../auth/setup-routes.js';
import type { AppContext } from '../context.js';
import type { Guards } from './guards.js';
import { healthRoute } from './health.js';

export interface Route {
  method: 'get' | 'post' | 'put' | 'patch' | 'delete';
  path: string;
  /** false: answered before the session middleware (no cookie read, no store access). */
  session: boolean;
  chain: RequestHandler[];
}

export function routeTable(ctx: AppContext, g: Guards, passport: ReturnType<typeof createPassport>): Route[] {
  const login = loginRoutes(ctx, g, passport);
  const setup = setupRoutes(ctx, g);
  const home = homeRoutes(ctx, g);
  const account = accountRoutes(ctx, g);
  const password = passwordRoutes(ctx, g);
  const api = createApiGuards(ctx, g);
  /** Signed-in pages; a user who must change their password is sent to do that first. */
  const page = [g.requireSession, g.requireCurrentPassword];
  /** State-changing forms of signed-in pages. */
  const form = [g.form, g.sameOrigin, g.requireCsrf];
  const admin = [...page, g.requireAdmin];
  void api;
  void form;
  void admin;
  return [
    { method: 'get', path: '/healthz', session: false, chain: [healthRoute(ctx)] },

    // ---- sign-in, first-run setup ------------------------------------------------------
    { method: 'get', path: '/login', session: true, chain: [g.requireSafeTransport, login.page] },
    { method: 'post', path: '/login', session: true, chain: [g.requireSafeTransport, g.form, g.sameOrigin, login.csrf, login.submit] },
    { method: 'post', path: '/logout', session: true, chain: [g.form, login.skipIfSignedOut, g.sameOrigin, g.requireCsrf, login.logout] },

    { method: 'get', path: '/setup', session: true, chain: [g.requireSafeTransport, setup.page] },
    { method: 'post', path: '/setup', session: true, chain: [g.requireSafeTransport, g.form, g.sameOrigin, g.requireCsrf, setup.submit] },

    { method: 'get', path: '/', session: true, chain: [...page, home.home] },

    // ---- account pages (src/account) -------------------------------------------------
    { method: 'get', path: '/account', session: true, chain: [...page, account.overview] },
    { method: 'post', path: '/account/sessions/revoke-others', session: true, chain: [...page, ...form, account.revokeOthers] },
    { method: 'post', path: '/account/sessions/:handle/revoke', session: true, chain: [...page, ...form, account.revokeSession] },
    // Not requireCurrentPassword: a forced password change is done on this very page.
    { method: 'get', path: '/account/password', session: true, chain: [g.requireSession, password.page] },
    { method: 'post', path: '/account/password', session: true, chain: [g.requireSession, ...form, password.submit] },
    { method: 'get', path: '/account/data', session: true, chain: [...page, account.downloadData] },
    { method: 'post', path: '/account/delete-request', session: true, chain: [...page, ...form, account.requestDeletion] },
    { method: 'post', path: '/account/delete-request/cancel', session: true, chain: [...page, ...form, account.cancelDeletion] },
    { method: 'post', path: '/account/tokens', session: true, chain: [...page, ...form, account.createToken] },
    { method: 'post', path: '/account/tokens/:id/revoke', session: true, chain: [...page, ...form, account.revokeToken] },
    // The strength meter: signed-in pages and the setup page (a visitor with a CSRF token).
    { method: 'post', path: '/password/strength', session: true, chain: [g.sameOrigin, g.requireCsrf, password.json, password.strength] },

    // ---- admin pages (src/admin) -------------------------------------------------------

    // ---- JSON API /api/v1 (src/api) ----------------------------------------------------
  ];
}
