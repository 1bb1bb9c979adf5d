// HTTP adapters for the user administration pages: list, add, edit profile and groups,
// reset password, disable/enable, delete, and declining deletion requests. The rules
// (password policy, last-admin protection, anonymising) live in src/users/accounts.ts.

import type { Request, RequestHandler, Response } from 'express';
import { z } from 'zod';
import type { AppContext } from '../context.js';
import { addFlash } from '../http/flash.js';
import type { Guards } from '../http/guards.js';
import { renderPage } from '../http/views.js';
import { AppError, badRequest, notFound } from '../lib/errors.js';
import { deviceLabel } from '../sessions/device.js';
import { hashSessionId, handleOf } from '../sessions/store.js';
import { clientIp } from '../theft/client-ip.js';
import { strengthRequester } from '../http/rate-limit.js';
import { ADMIN_GROUP } from '../users/groups.js';
import type { User } from '../users/repository.js';
import { normalizeUsername } from '../users/username.js';
import { firstProblem, formPassword, formText } from '../http/form-fields.js';
import { actor, currentUser, frame, targetUser, userPath } from './shared.js';

/** Checkboxes of known groups arrive as one value or a list; free text adds more. */
const groupsFields = {
  groups: z.union([formText('A group', 64), z.array(formText('A group', 64)).max(64, { error: 'Too many groups.' })]).optional(),
  groups_other: formText('Other groups', 1024).optional(),
};

const profileForm = z.object({
  display_name: formText('The display name', 256),
  email: formText('The email address', 320),
  ...groupsFields,
});

const createForm = z.object({
  username: formText('The username', 256),
  display_name: formText('The display name', 256).optional(),
  email: formText('The email address', 320).optional(),
  ...groupsFields,
  password: formPassword('The password'),
  password_confirm: formPassword('The password confirmation'),
});

const passwordForm = z.object({
  password: formPassword('The new password'),
  password_confirm: formPassword('The password confirmation'),
});

const deleteForm = z.object({ confirm: formText('The confirmation', 256) });

/** What the group fields of a form say: checked boxes plus comma/space separated text. */
function groupsOf(form: { groups?: string | string[] | undefined; groups_other?: string | undefined }): string[] {
  const checked = form.groups === undefined ? [] : Array.isArray(form.groups) ? form.groups : [form.groups];
  const typed = (form.groups_other ?? '').split(/[\s,]+/);
  return [...checked, ...typed].map((g) => g.trim()).filter((g) => g.length > 0);
}

/** A form's fields as typed, to show them again next to an error (never the password). */
function typedValues(body: unknown): Record<string, unknown> {
  const b = (body ?? {}) as Record<string, unknown>;
  // Control characters are dropped from what is shown again; the error names the field.
  const one = (v: unknown): string => (typeof v === 'string' ? v.slice(0, 1024).replace(/\p{C}/gu, '') : '');
  const checked = Array.isArray(b.groups) ? b.groups.filter((g): g is string => typeof g === 'string') : typeof b.groups === 'string' ? [b.groups] : [];
  return { username: one(b.username), displayName: one(b.display_name), email: one(b.email), groups: checked.slice(0, 64), groupsOther: one(b.groups_other) };
}

/**
 * Form-level errors (bad input, weak password, last admin, name taken, too many password
 * checks) go back to the form, with Retry-After when they say when to try again.
 */
function formError(err: unknown, res: Response): AppError {
  if (!(err instanceof AppError && err.status >= 400 && err.status < 500 && err.code !== 'user-not-found')) throw err;
  if (err.retryAfter !== undefined) res.set('Retry-After', String(err.retryAfter));
  return err;
}

interface UserPageExtra {
  profileError?: string;
  profile?: Record<string, unknown>;
  passwordError?: string;
  stateError?: string;
  deleteError?: string;
}

export function adminUserRoutes(ctx: AppContext, guards: Guards) {
  /** Groups to offer as checkboxes: every group in use, and always the administrators'. */
  function knownGroups(): string[] {
    const all = new Set<string>([ADMIN_GROUP]);
    for (const u of ctx.users.list()) for (const g of u.groups) all.add(g);
    return [...all].sort();
  }

  function liveSessionCounts(): Map<number, number> {
    const counts = new Map<number, number>();
    for (const s of ctx.sessions.list({ limit: 100_000 })) {
      if (s.userId !== null) counts.set(s.userId, (counts.get(s.userId) ?? 0) + 1);
    }
    return counts;
  }

  function renderNew(req: Request, res: Response, status: number, values: Record<string, unknown>, error?: string): void {
    renderPage(res, 'admin-user-new.njk', { ...frame(req, guards, 'users', 'Add a user'), knownGroups: knownGroups(), values, error }, status);
  }

  function renderUser(req: Request, res: Response, user: User, status: number, extra: UserPageExtra = {}): void {
    const currentHandle = handleOf(hashSessionId(req.sessionID));
    const sessions = ctx.sessions.list({ userId: user.id }).map((s) => ({
      handle: s.handle,
      device: deviceLabel(s.userAgent),
      ip: s.boundIp,
      createdAt: s.createdAt,
      lastSeenAt: s.lastSeenAt,
      expiresAt: s.expiresAt,
      current: s.handle === currentHandle,
    }));
    const profile = extra.profile ?? { displayName: user.displayName, email: user.email ?? '', groups: user.groups, groupsOther: '' };
    renderPage(
      res,
      'admin-user.njk',
      {
        ...frame(req, guards, 'users', `User ${user.username}`),
        user,
        path: userPath(user.username),
        self: user.id === currentUser(req).id,
        knownGroups: knownGroups(),
        profile,
        sessions,
        twoFactor: ctx.twoFactor.status(user.id),
        ...extra,
      },
      status,
    );
  }

  const list: RequestHandler = (req, res) => {
    const counts = liveSessionCounts();
    const users = ctx.users.list().map((u) => ({ ...u, path: userPath(u.username), liveSessions: counts.get(u.id) ?? 0 }));
    renderPage(res, 'admin-users.njk', { ...frame(req, guards, 'users', 'Users'), users });
  };

  const newForm: RequestHandler = (req, res) => renderNew(req, res, 200, { groups: [] });

  const create: RequestHandler = async (req, res) => {
    const values = typedValues(req.body);
    const parsed = createForm.safeParse(req.body ?? {});
    if (!parsed.success) return renderNew(req, res, 400, values, firstProblem(parsed.error));
    const form = parsed.data;
    if (form.password !== form.password_confirm) return renderNew(req, res, 400, values, 'The two passwords do not match.');
    try {
      const user = await ctx.accounts.create({
        username: form.username,
        password: form.password,
        displayName: form.display_name ?? '',
        email: form.email ?? null,
        groups: groupsOf(form),
        by: actor(req),
        requester: strengthRequester(ctx, req),
      });
      addFlash(req, `User ${user.username} was added. They can sign in with the password you chose.`);
      res.redirect(303, userPath(user.username));
    } catch (err) {
      const e = formError(err, res);
      renderNew(req, res, e.status, values, e.publicMessage);
    }
  };

  const show: RequestHandler = (req, res) => renderUser(req, res, targetUser(ctx, req.params.username), 200);

  /** GET on an action's address (a re-authentication that came back without a Referer). */
  const actionAddress: RequestHandler = (req, res) => {
    const action = req.params.action;
    if (!['password', 'disable', 'enable', 'delete', 'reset-two-factor'].includes(String(action))) throw notFound('not-found', 'There is no page at this address.');
    res.redirect(303, userPath(targetUser(ctx, req.params.username).username));
  };

  const update: RequestHandler = (req, res) => {
    const user = targetUser(ctx, req.params.username);
    const typed = typedValues(req.body);
    const profile = { displayName: typed.displayName, email: typed.email, groups: typed.groups, groupsOther: typed.groupsOther };
    const parsed = profileForm.safeParse(req.body ?? {});
    if (!parsed.success) return renderUser(req, res, user, 400, { profile, profileError: firstProblem(parsed.error) });
    try {
      ctx.accounts.update(user.username, { displayName: parsed.data.display_name, email: parsed.data.email, groups: groupsOf(parsed.data) }, actor(req));
      addFlash(req, `Saved the changes to ${user.username}.`);
      res.redirect(303, userPath(user.username));
    } catch (err) {
      const e = formError(err, res);
      renderUser(req, res, user, e.status, { profile, profileError: e.publicMessage });
    }
  };

  const resetPassword: RequestHandler = async (req, res) => {
    const user = targetUser(ctx, req.params.username);
    const parsed = passwordForm.safeParse(req.body ?? {});
    if (!parsed.success) return renderUser(req, res, user, 400, { passwordError: firstProblem(parsed.error) });
    if (parsed.data.password !== parsed.data.password_confirm) return renderUser(req, res, user, 400, { passwordError: 'The two passwords do not match.' });
    try {
      const { sessionsRevoked } = await ctx.accounts.setPassword(user.username, parsed.data.password, actor(req), {
        reset: true,
        ip: clientIp(req),
        hasSecondFactor: ctx.twoFactor.isEnabled(user.id),
        requester: strengthRequester(ctx, req),
      });
      addFlash(req, `The password of ${user.username} was reset; ${sessionsRevoked} session(s) ended. They must choose a new password at their next sign-in.`);
      res.redirect(303, userPath(user.username));
    } catch (err) {
      const e = formError(err, res);
      renderUser(req, res, user, e.status, { passwordError: e.publicMessage });
    }
  };

  const disable: RequestHandler = (req, res) => {
    const user = targetUser(ctx, req.params.username);
    // A repeated click (two tabs, back button) changes nothing and writes no audit entry.
    if (user.disabled) {
      addFlash(req, `${user.username} is already disabled.`);
      return res.redirect(303, userPath(user.username));
    }
    try {
      const { sessionsRevoked, tokensRevoked } = ctx.accounts.disable(user.username, actor(req));
      addFlash(req, `${user.username} is disabled; ${sessionsRevoked} session(s) ended, ${tokensRevoked} API token(s) revoked.`);
      res.redirect(303, userPath(user.username));
    } catch (err) {
      const e = formError(err, res);
      renderUser(req, res, user, e.status, { stateError: e.publicMessage });
    }
  };

  const enable: RequestHandler = (req, res) => {
    const user = targetUser(ctx, req.params.username);
    if (!user.disabled) {
      addFlash(req, `${user.username} is already enabled.`);
      return res.redirect(303, userPath(user.username));
    }
    ctx.accounts.enable(user.username, actor(req));
    addFlash(req, `${user.username} is enabled and can sign in again.`);
    res.redirect(303, userPath(user.username));
  };

  const remove: RequestHandler = (req, res) => {
    const user = targetUser(ctx, req.params.username);
    const parsed = deleteForm.safeParse(req.body ?? {});
    if (!parsed.success) return renderUser(req, res, user, 400, { deleteError: firstProblem(parsed.error) });
    const typed = normalizeUsername(parsed.data.confirm);
    if (!typed.ok || typed.username !== user.username) {
      return renderUser(req, res, user, 400, { deleteError: `Type the username "${user.username}" to confirm the deletion.` });
    }
    try {
      const { sessionsRevoked } = ctx.accounts.delete(user.username, actor(req));
      addFlash(req, `${user.username} was deleted with their personal data; ${sessionsRevoked} session(s) ended.`);
      res.redirect(303, '/admin/users');
    } catch (err) {
      const e = formError(err, res);
      renderUser(req, res, user, e.status, { deleteError: e.publicMessage });
    }
  };

  /**
   * A lost phone: the authenticator app, the passkeys and the recovery codes go; the password
   * stays. The user's sessions end (an administrator resetting their own keeps this one). Audited.
   */
  const resetTwoFactor: RequestHandler = (req, res) => {
    const user = targetUser(ctx, req.params.username);
    const self = user.id === (req.user as Express.User).id;
    const removed = ctx.twoFactor.reset(user, actor(req), clientIp(req), self ? { exceptSid: req.sessionID } : {});
    const what = [
      removed.totp ? 'the authenticator app' : '',
      removed.passkeys ? `${removed.passkeys} passkey(s)` : '',
      removed.recoveryCodes ? `${removed.recoveryCodes} recovery code(s)` : '',
    ].filter(Boolean);
    const list = what.length > 1 ? `${what.slice(0, -1).join(', ')} and ${what.at(-1)}` : what[0];
    const ended = `${removed.sessionsRevoked} session(s) ended`;
    addFlash(
      req,
      list
        ? `Removed ${list} of ${user.username}; ${ended}. They now sign in with their password alone and can set up a new second factor on their account page.`
        : `${user.username} had no second factor; nothing was removed; ${ended}.`,
    );
    res.redirect(303, userPath(user.username));
  };

  const declineDeletion: RequestHandler = (req, res) => {
    const user = targetUser(ctx, req.params.username);
    if (user.deletionRequestedAt === null) throw badRequest('no-deletion-request', `${user.username} has not asked for their account to be deleted.`);
    ctx.accounts.cancelDeletion(user.id, actor(req));
    addFlash(req, `The deletion request of ${user.username} was declined; the account stays.`);
    res.redirect(303, '/admin');
  };

  return { list, newForm, create, show, actionAddress, update, resetPassword, disable, enable, remove, resetTwoFactor, declineDeletion };
}
