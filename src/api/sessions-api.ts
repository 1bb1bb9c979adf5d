// /api/v1/sessions…: every signed-in session for administrators — list (by user, live or
// ended) and end one by its handle. Sessions are named by handles, never by their IDs.

import type { RequestHandler } from 'express';
import type { AppContext } from '../context.js';
import { AppError, notFound } from '../lib/errors.js';
import { SessionParams, sessionJson, SessionsQuery } from './schemas.js';
import { actor, params, query } from './validate.js';

const DEFAULT_LIMIT = 100;

export function sessionsApi(ctx: AppContext) {
  const list: RequestHandler = (req, res) => {
    const { user, state = 'live', limit = DEFAULT_LIMIT } = query(SessionsQuery, req);
    const userId = user === undefined ? undefined : ctx.accounts.require(user).id;
    const filter = userId === undefined ? {} : { userId };
    const sessions = state === 'live' ? ctx.sessions.list({ ...filter, limit }) : ctx.sessions.listEnded({ ...filter, limit });
    res.json({ sessions: sessions.map(sessionJson) });
  };

  const revoke: RequestHandler = (req, res) => {
    const { handle } = params(SessionParams, req);
    let ended;
    try {
      ended = ctx.sessions.revokeByHandle(handle, 'revoked', actor(req));
    } catch (err) {
      // A short prefix matching two sessions: the caller must say which.
      if (err instanceof RangeError) throw new AppError('ambiguous-handle', 409, 'That handle matches more than one session; give more characters.');
      throw err;
    }
    if (!ended) throw notFound('session-not-found', 'There is no live session with that handle.');
    res.status(204).end();
  };

  return { list, revoke };
}
