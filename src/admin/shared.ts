// Helpers shared by the admin pages: who is acting, the target user of
// a /admin/users/:username path, safe return paths and the page frame (wide, sub-navigation).

import type { Request } from 'express';
import { safeLocalPath } from '../access/redirect.js';
import type { AppContext } from '../context.js';
import type { Guards } from '../http/guards.js';
import { notFound } from '../lib/errors.js';
import type { User } from '../users/repository.js';
import { normalizeUsername } from '../users/username.js';

export type AdminArea = 'overview' | 'users' | 'sessions' | 'audit' | 'bans';

/** The signed-in administrator (the route table runs requireSession and requireAdmin first). */
export function currentUser(req: Request): Express.User {
  return req.user as Express.User;
}

/** The `by` recorded in audit entries for an administrator's action. */
export function actor(req: Request): string {
  return `admin:${currentUser(req).username}`;
}

/** Locals every admin page needs: the wide layout, the sub-navigation and the CSRF token. */
export function frame(req: Request, guards: Guards, area: AdminArea, title: string): Record<string, unknown> {
  return { title, area, mainClass: 'wide', csrfToken: guards.csrfToken(req) };
}

/**
 * The user named in the path. Malformed names get the same 404 as unknown ones: there is
 * nothing to show, and the message never echoes a hostile or huge path segment.
 */
export function targetUser(ctx: AppContext, raw: unknown): User {
  const check = typeof raw === 'string' ? normalizeUsername(raw) : null;
  const user = check?.ok ? ctx.users.findByUsername(check.username) : null;
  if (!user) throw notFound('user-not-found', check?.ok ? `There is no user named "${check.username}".` : 'There is no such user.');
  return user;
}

/**
 * The path of a user's admin page. "new" is the creation form's path, so a user of that
 * name is reached with an escaped first letter: the router compares the raw path, the
 * parameter is decoded.
 */
export function userPath(username: string): string {
  return `/admin/users/${username === 'new' ? '%6Eew' : encodeURIComponent(username)}`;
}

/** Where a form that may sit on several admin pages sends the browser back to. */
export function adminReturnPath(raw: unknown, fallback: string): string {
  const path = safeLocalPath(raw);
  return path !== null && (path === '/admin' || path.startsWith('/admin/')) ? path : fallback;
}
