// /api/v1/bans…: the login regulator's active bans and locks for administrators, and
// lifting them (which also clears the failure counters of that address or username).

import type { RequestHandler } from 'express';
import type { AppContext } from '../context.js';
import { badRequest, notFound } from '../lib/errors.js';
import type { LiftResult } from '../throttle/regulator.js';
import { BanParams, banJson } from './schemas.js';
import { actor, params } from './validate.js';

export function bansApi(ctx: AppContext) {
  const list: RequestHandler = (_req, res) => {
    res.json({ bans: ctx.regulator.listBans().map(banJson) });
  };

  const lift: RequestHandler = (req, res) => {
    const { target } = params(BanParams, req);
    let result: LiftResult;
    try {
      result = ctx.regulator.lift(target, actor(req));
    } catch (err) {
      if (err instanceof RangeError) throw badRequest('invalid-parameter', 'The target must be an IP address, an IPv6 /64 or a username.');
      throw err;
    }
    if (result.cleared === 0) throw notFound('ban-not-found', 'There is no ban or failure count for that target.');
    res.status(204).end();
  };

  return { list, lift };
}
