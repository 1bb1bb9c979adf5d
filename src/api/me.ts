// /api/v1/me…: the caller's own account over JSON — profile, password, re-authentication,
// sessions, personal data, API tokens and the deletion request. Thin: parse, call the
// account domain, serialize.

import type { Request, RequestHandler } from 'express';
import type { z } from 'zod';
import { mySessions, revokeMyOtherSessions, revokeMySession } from '../account/my-sessions.js';
import { exportPersonalData } from '../account/my-data.js';
import { authIsRecent, confirmPassword, RECENT_AUTH_MS } from '../auth/confirm.js';
import { passwordChangeRequired } from '../passwords/policy.js';
import type { AppContext } from '../context.js';
import type { Guards } from '../http/guards.js';
import { AppError, notFound } from '../lib/errors.js';
import { renewSessionId } from '../http/session.js';
import { clientIp } from '../theft/client-ip.js';
import { strengthRequester } from '../http/rate-limit.js';
import { isAdmin } from '../users/groups.js';
import {
  DeletionRequested,
  iso,
  mySessionJson,
  MySessionParams,
  PasswordBody,
  PasswordChangeBody,
  Reauthenticated,
  TokenCreateBody,
  tokenJson,
  TokenParams,
  userJson,
  type MeJson,
} from './schemas.js';
import { actor, body, caller, params } from './validate.js';

const DAY = 86_400_000;

/** The cookie session's ID, or null when the caller used a token (no "this device"). */
const sessionId = (req: Request): string | null => (req.apiToken ? null : req.sessionID);

export function meApi(ctx: AppContext, g: Guards) {
  /** The caller as stored now (req.user may predate a change made by this request). */
  const fresh = (req: Request) => {
    const user = ctx.users.findById(caller(req).id);
    if (!user) throw notFound('user-not-found', 'There is no such user.');
    return user;
  };

  const show: RequestHandler = (req, res) => {
    const user = fresh(req);
    const now = ctx.clock.now();
    const me: z.output<typeof MeJson> = {
      user: userJson(user),
      admin: isAdmin(user.groups),
      password_change_required: passwordChangeRequired(user, ctx.config.password.max_age, now),
      authentication: {
        method: req.apiToken ? 'token' : 'session',
        recent: !req.apiToken && authIsRecent(ctx, req),
        token: req.apiToken ? tokenJson(req.apiToken, now) : null,
      },
    };
    res.json(me);
  };

  const csrf: RequestHandler = (req, res) => {
    res.json({ csrf_token: g.csrfToken(req) });
  };

  const changePassword: RequestHandler = async (req, res) => {
    const input = body(PasswordChangeBody, req);
    await confirmPassword(ctx, req, input.current_password);
    const user = caller(req);
    const result = await ctx.accounts.setPassword(user.username, input.new_password, actor(req), {
      keepSid: req.sessionID,
      ip: clientIp(req),
      hasSecondFactor: ctx.twoFactor.isEnabled(user.id),
      requester: strengthRequester(ctx, req),
    });
    // As on the page: the session continues under a new ID, so a copied cookie is dead.
    renewSessionId(ctx, req, res, ctx.clock.now());
    res.json({ sessions_revoked: result.sessionsRevoked, tokens_revoked: result.tokensRevoked, csrf_token: g.csrfToken(req) });
  };

  const reauth: RequestHandler = async (req, res) => {
    const input = body(PasswordBody, req);
    await confirmPassword(ctx, req, input.password);
    const at = ctx.clock.now();
    // A new authentication: the session continues under a new ID (and CSRF token).
    renewSessionId(ctx, req, res, at);
    const answer: z.output<typeof Reauthenticated> = { authenticated_at: iso(at), recent_until: iso(at + RECENT_AUTH_MS), csrf_token: g.csrfToken(req) };
    res.json(answer);
  };

  const sessions: RequestHandler = (req, res) => {
    const { live, ended } = mySessions(ctx, caller(req).id, sessionId(req));
    res.json({ sessions: live.map(mySessionJson), ended: ended.map(mySessionJson) });
  };

  const revokeSession: RequestHandler = (req, res) => {
    const { handle } = params(MySessionParams, req);
    revokeMySession(ctx, caller(req), handle);
    res.status(204).end();
  };

  const revokeOthers: RequestHandler = (req, res) => {
    // With a cookie, "others" spares the session making the call; a token has none to spare.
    const revoked = revokeMyOtherSessions(ctx, caller(req), sessionId(req));
    res.json({ sessions_revoked: revoked });
  };

  const data: RequestHandler = (req, res) => {
    const user = caller(req);
    const document = exportPersonalData(ctx, user.id);
    if (req.method === 'GET') ctx.audit.dataExported({ userId: user.id, username: user.username, ip: clientIp(req) });
    res.json(document);
  };

  const tokens: RequestHandler = (req, res) => {
    const now = ctx.clock.now();
    res.json({ tokens: ctx.tokens.list(caller(req).id).map((t) => tokenJson(t, now)) });
  };

  const createToken: RequestHandler = (req, res) => {
    const input = body(TokenCreateBody, req);
    const user = caller(req);
    if (input.scope === 'admin' && !isAdmin(user.groups)) {
      throw new AppError('forbidden', 403, 'Only administrators can create tokens with the admin scope.');
    }
    const { token, info } = ctx.tokens.create({
      userId: user.id,
      username: user.username,
      name: input.name,
      scope: input.scope,
      lifetimeMs: input.expires_in_days * DAY,
      by: actor(req),
      ip: clientIp(req),
    });
    res.status(201).json({ ...tokenJson(info, ctx.clock.now()), token });
  };

  const revokeToken: RequestHandler = (req, res) => {
    const { id } = params(TokenParams, req);
    ctx.tokens.revoke(caller(req).id, id, actor(req));
    res.status(204).end();
  };

  const requestDeletion: RequestHandler = async (req, res) => {
    const input = body(PasswordBody, req);
    await confirmPassword(ctx, req, input.password);
    ctx.accounts.requestDeletion(caller(req).id, clientIp(req));
    const answer: z.output<typeof DeletionRequested> = { deletion_requested_at: iso(fresh(req).deletionRequestedAt ?? ctx.clock.now()) };
    res.json(answer);
  };

  const cancelDeletion: RequestHandler = (req, res) => {
    ctx.accounts.cancelDeletion(caller(req).id, actor(req));
    res.status(204).end();
  };

  return { show, csrf, changePassword, reauth, sessions, revokeSession, revokeOthers, data, tokens, createToken, revokeToken, requestDeletion, cancelDeletion };
}
