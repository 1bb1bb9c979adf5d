// /api/v1/users…: household accounts for administrators over JSON — list (paged), create,
// show, change, delete, reset password, disable, enable, reset second factors, decline a
// deletion request. The account and two-factor domains enforce the rules (password policy,
// last administrator); this file parses, calls and serializes. Every operation on one user
// answers `{ "user": …, …what it did }` (schemas.ts UserResult).

import type { RequestHandler } from 'express';
import type { AppContext } from '../context.js';
import { clientIp } from '../theft/client-ip.js';
import { AppError } from '../lib/errors.js';
import type { User } from '../users/repository.js';
import { strengthRequester } from '../http/rate-limit.js';
import { PasswordBody, UserCreateBody, userJson, UsernameParams, UserPatchBody, UsersQuery } from './schemas.js';
import { actor, body, caller, params, query } from './validate.js';

const userResult = (user: Readonly<User>) => ({ user: userJson(user) });

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
    res.status(201).location(`/api/v1/users/${encodeURIComponent(user.username)}`).json(userResult(user));
  };

  const show: RequestHandler = (req, res) => {
    const { username } = params(UsernameParams, req);
    res.json(userResult(ctx.accounts.require(username)));
  };

  const update: RequestHandler = (req, res) => {
    const { username } = params(UsernameParams, req);
    const input = body(UserPatchBody, req);
    const changes = {
      ...(input.display_name !== undefined ? { displayName: input.display_name } : {}),
      ...(input.email !== undefined ? { email: input.email } : {}),
      ...(input.groups !== undefined ? { groups: input.groups } : {}),
    };
    res.json(userResult(ctx.accounts.update(username, changes, actor(req))));
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
    res.json({ ...userResult(ctx.accounts.require(username)), sessions_revoked: result.sessionsRevoked });
  };

  const disable: RequestHandler = (req, res) => {
    const { username } = params(UsernameParams, req);
    const { user, sessionsRevoked, tokensRevoked } = ctx.accounts.disable(username, actor(req));
    res.json({ ...userResult(ctx.accounts.require(user.username)), sessions_revoked: sessionsRevoked, tokens_revoked: tokensRevoked });
  };

  const enable: RequestHandler = (req, res) => {
    const { username } = params(UsernameParams, req);
    const user = ctx.accounts.enable(username, actor(req));
    res.json(userResult(ctx.accounts.require(user.username)));
  };

  /**
   * A lost phone, as on the admin page: the authenticator app, passkeys and recovery codes
   * go, the password stays, and every session of the user ends (an administrator resetting
   * their own factors with the cookie keeps this session). Audited.
   */
  const resetTwoFactor: RequestHandler = (req, res) => {
    const { username } = params(UsernameParams, req);
    const target = ctx.accounts.require(username);
    const self = target.id === caller(req).id && !req.apiToken;
    const removed = ctx.twoFactor.reset(target, actor(req), clientIp(req), self ? { exceptSid: req.sessionID } : {});
    res.json({
      ...userResult(ctx.accounts.require(target.username)),
      removed: { totp: removed.totp, passkeys: removed.passkeys, recovery_codes: removed.recoveryCodes },
      sessions_revoked: removed.sessionsRevoked,
    });
  };

  /** Declines a deletion request: the account stays as it is (409 when there is none). */
  const declineDeletion: RequestHandler = (req, res) => {
    const { username } = params(UsernameParams, req);
    const target = ctx.accounts.require(username);
    if (target.deletionRequestedAt === null) throw new AppError('no-deletion-request', 409, `${target.username} has not asked for their account to be deleted.`);
    ctx.accounts.cancelDeletion(target.id, actor(req));
    res.json(userResult(ctx.accounts.require(target.username)));
  };

  return { list, create, show, update, remove, resetPassword, disable, enable, resetTwoFactor, declineDeletion };
}
