// /api/v1/users…: household accounts for administrators over JSON — list (paged), create,
// show, change, delete, reset password, disable, enable. The account domain enforces the
// rules (password policy, last administrator); this file parses, calls and serializes.

import type { RequestHandler } from 'express';
import type { AppContext } from '../context.js';
import { clientIp } from '../theft/client-ip.js';
import { strengthRequester } from '../throttle/rate-limit.js';
import { PasswordBody, UserCreateBody, userJson, UsernameParams, UserPatchBody, UsersQuery } from './schemas.js';
import { actor, body, params, query } from './validate.js';

const DEFAULT_LIMIT = 50;

export function usersApi(ctx: AppContext) {
  const list: RequestHandler = (req, res) => {
    const { limit = DEFAULT_LIMIT, offset = 0 } = query(UsersQuery, req);
    const all = ctx.users.list();
    const next = offset + limit < all.length ? offset + limit : null;
    res.json({ users: all.slice(offset, offset + limit).map(userJson), total: all.length, limit, offset, next_offset: next });
  };

  const create: RequestHandler = async (req, res) => {
    const input = body(UserCreateBody, req);
    const user = await ctx.accounts.create({
      username: input.username,
      password: input.password,
      ...(input.display_name !== undefined ? { displayName: input.display_name } : {}),
      ...(input.email !== undefined ? { email: input.email } : {}),
      ...(input.groups !== undefined ? { groups: input.groups } : {}),
      by: actor(req),
      requester: strengthRequester(ctx, req),
    });
    res.status(201).location(`/api/v1/users/${encodeURIComponent(user.username)}`).json(userJson(user));
  };

  const show: RequestHandler = (req, res) => {
    const { username } = params(UsernameParams, req);
    res.json(userJson(ctx.accounts.require(username)));
  };

  const update: RequestHandler = (req, res) => {
    const { username } = params(UsernameParams, req);
    const input = body(UserPatchBody, req);
    const changes = {
      ...(input.display_name !== undefined ? { displayName: input.display_name } : {}),
      ...(input.email !== undefined ? { email: input.email } : {}),
      ...(input.groups !== undefined ? { groups: input.groups } : {}),
    };
    res.json(userJson(ctx.accounts.update(username, changes, actor(req))));
  };

  const remove: RequestHandler = (req, res) => {
    const { username } = params(UsernameParams, req);
    ctx.accounts.delete(username, actor(req));
    res.status(204).end();
  };

  /** An administrator sets a password: the user must choose their own at next sign-in. */
  const resetPassword: RequestHandler = async (req, res) => {
    const { username } = params(UsernameParams, req);
    const input = body(PasswordBody, req);
    const target = ctx.accounts.require(username);
    const result = await ctx.accounts.setPassword(username, input.password, actor(req), {
      reset: true,
      ip: clientIp(req),
      hasSecondFactor: ctx.twoFactor.isEnabled(target.id),
      requester: strengthRequester(ctx, req),
    });
    res.json({ sessions_revoked: result.sessionsRevoked });
  };

  const disable: RequestHandler = (req, res) => {
    const { username } = params(UsernameParams, req);
    const { user, sessionsRevoked, tokensRevoked } = ctx.accounts.disable(username, actor(req));
    res.json({ user: userJson(ctx.accounts.require(user.username)), sessions_revoked: sessionsRevoked, tokens_revoked: tokensRevoked });
  };

  const enable: RequestHandler = (req, res) => {
    const { username } = params(UsernameParams, req);
    const user = ctx.accounts.enable(username, actor(req));
    res.json({ user: userJson(ctx.accounts.require(user.username)) });
  };

  return { list, create, show, update, remove, resetPassword, disable, enable };
}
