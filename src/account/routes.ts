// HTTP adapters for /account: the overview page, ending sessions, "my data", the deletion
// request and personal API tokens. They parse, call the domain and map the outcome.

import type { RequestHandler } from 'express';
import { z } from 'zod';
import { confirmPassword } from '../auth/confirm.js';
import { signOut } from '../auth/login-routes.js';
import type { AppContext } from '../context.js';
import { addFlash } from '../http/flash.js';
import type { Guards } from '../http/guards.js';
import { AppError, forbidden } from '../lib/errors.js';
import { handleOf, hashSessionId } from '../sessions/store.js';
import { clientIp } from '../theft/client-ip.js';
import { TOKEN_SCOPES } from '../tokens/api-tokens.js';
import { isAdmin } from '../users/groups.js';
import { exportPersonalData } from './my-data.js';
import { formPassword, formText, parseForm } from '../http/form-fields.js';
import { renderAccount, TOKEN_LIFETIME_DEFAULT_DAYS } from './page.js';
import { revokeMyOtherSessions, revokeMySession } from './my-sessions.js';

const DAY = 86_400_000;

const handleParam = z.string().regex(/^[0-9a-f]{12}$/);
const tokenIdParam = z.string().regex(/^[1-9][0-9]{0,15}$/).transform(Number);

const tokenForm = z.object({
  name: formText('The token name', 64).refine((v) => v.trim().length > 0, { error: 'Give the token a name.' }),
  scope: z.enum(TOKEN_SCOPES, { error: 'The scope must be read, write or admin.' }),
  expires_in_days: formText('The lifetime', 8)
    .optional()
    .transform((v) => (v === undefined || v.trim() === '' ? TOKEN_LIFETIME_DEFAULT_DAYS : Number(v.trim())))
    .refine((n) => Number.isInteger(n) && n >= 1 && n <= 366, { error: 'A token lives between 1 and 366 days.' }),
});

const deleteForm = z.object({ current_password: formPassword('The current password') });

const who = (user: Express.User) => `user:${user.username}`;

export function accountRoutes(ctx: AppContext, guards: Guards) {

  const overview: RequestHandler = (req, res) => renderAccount(ctx, guards, req, res);


  const revokeSession: RequestHandler = (req, res, next) => {
    const user = req.user as Express.User;
    const handle = handleParam.safeParse(req.params.handle);
    if (!handle.success) throw new AppError('session-not-found', 404, 'There is no such live session of yours.');
    if (handle.data === handleOf(hashSessionId(req.sessionID))) return signOut(ctx, req, res, next); // ending this device is signing out
    const ended = revokeMySession(ctx, user, handle.data);
    addFlash(req, `Signed out the session ${ended.handle}. That device must sign in again.`);
    res.redirect(303, '/account');
  };

  const revokeOthers: RequestHandler = (req, res) => {
    const user = req.user as Express.User;
    const count = revokeMyOtherSessions(ctx, user, req.sessionID);
    addFlash(req, count === 0 ? 'No other devices were signed in.' : `Signed out ${count} other ${count === 1 ? 'session' : 'sessions'}. This device stays signed in.`);
    res.redirect(303, '/account');
  };

  const downloadData: RequestHandler = (req, res) => {
    const user = req.user as Express.User;
    const data = exportPersonalData(ctx, user.id);
    // HEAD runs this handler too but sends nothing: only a real download is an export.
    if (req.method === 'GET') ctx.audit.dataExported({ userId: user.id, username: user.username, ip: clientIp(req) });
    // Usernames are [a-z0-9._-] (normalized at creation), safe in a header and a file name.
    res.status(200).set('Cache-Control', 'no-store').attachment(`gatehouse-${user.username}-data.json`).type('application/json');
    res.send(`${JSON.stringify(data, null, 2)}\n`);
  };

  const requestDeletion: RequestHandler = async (req, res) => {
    const user = req.user as Express.User;
    try {
      const form = parseForm(deleteForm, req.body);
      await confirmPassword(ctx, req, form.current_password);
    } catch (err) {
      if (err instanceof AppError && err.status < 500) {
        if (err.retryAfter !== undefined) res.set('Retry-After', String(err.retryAfter));
        return renderAccount(ctx, guards, req, res, { deleteError: err.publicMessage }, err.status);
      }
      throw err;
    }
    ctx.accounts.requestDeletion(user.id, clientIp(req));
    addFlash(req, 'Your request to delete your account was sent. An administrator will confirm it; until then you can cancel it here.');
    res.redirect(303, '/account');
  };

  const cancelDeletion: RequestHandler = (req, res) => {
    const user = req.user as Express.User;
    ctx.accounts.cancelDeletion(user.id, who(user));
    addFlash(req, 'Your account will not be deleted: the request was cancelled.');
    res.redirect(303, '/account');
  };

  /**
   * The new token is rendered on this very answer (201, no-store) and never again: a
   * redirect would need it stored somewhere, and it must not land in history or a cache.
   */
  const createToken: RequestHandler = (req, res) => {
    const user = req.user as Express.User;
    const body = (req.body ?? {}) as Record<string, unknown>;
    const keep = {
      name: typeof body.name === 'string' ? body.name.slice(0, 64) : '',
      scope: typeof body.scope === 'string' ? body.scope.slice(0, 8) : 'read',
      expires_in_days: typeof body.expires_in_days === 'string' ? body.expires_in_days.slice(0, 8) : String(TOKEN_LIFETIME_DEFAULT_DAYS),
    };
    let created;
    try {
      const form = parseForm(tokenForm, body);
      if (form.scope === 'admin' && !isAdmin(user.groups)) throw forbidden('forbidden-scope', 'Only administrators can create tokens with the admin scope.');
      created = ctx.tokens.create({ userId: user.id, username: user.username, name: form.name, scope: form.scope, lifetimeMs: form.expires_in_days * DAY, by: who(user), ip: clientIp(req) });
    } catch (err) {
      if (err instanceof AppError && err.status < 500) return renderAccount(ctx, guards, req, res, { tokenError: err.publicMessage, tokenForm: keep }, err.status);
      throw err;
    }
    renderAccount(ctx, guards, req, res, { newToken: created }, 201);
  };

  const revokeToken: RequestHandler = (req, res) => {
    const user = req.user as Express.User;
    const id = tokenIdParam.safeParse(req.params.id);
    if (!id.success) throw new AppError('token-not-found', 404, 'There is no such token.');
    const token = ctx.tokens.revoke(user.id, id.data, who(user));
    addFlash(req, `The token "${token.name}" was revoked; it no longer works.`);
    res.redirect(303, '/account');
  };

  return { overview, revokeSession, revokeOthers, downloadData, requestDeletion, cancelDeletion, createToken, revokeToken };
}
