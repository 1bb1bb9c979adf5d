// GET /healthz: 200 when the database answers a query, 503 otherwise.

import type { RequestHandler } from 'express';
import type { AppContext } from '../context.js';

export function healthRoute(ctx: AppContext): RequestHandler {
  return (_req, res) => {
    let ok = false;
    try {
      ok = ctx.db.prepare('SELECT 1').pluck().get() === 1;
    } catch (err) {
      ctx.log.warn({ err }, 'health check: database unavailable');
    }
    res.status(ok ? 200 : 503).set('Cache-Control', 'no-store').json({ status: ok ? 'ok' : 'unavailable' });
  };
}
