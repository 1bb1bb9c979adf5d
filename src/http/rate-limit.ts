// The global request rate limit for pages and APIs (express-rate-limit on the SQLite
// store), per client IP as resolved through the trusted proxies only, and who a request's
// password strength estimates are charged to. The forward-auth endpoints never pass
// through Express and have their own bucket.

import { isIP } from 'node:net';
import type { Request, RequestHandler } from 'express';
import { ipKeyGenerator, rateLimit } from 'express-rate-limit';
import type { Requester } from '../passwords/policy.js';
import type { AppContext } from '../context.js';
import { sendError } from './errors.js';
import { AppError } from '../lib/errors.js';
import { SqliteRateLimitStore } from '../throttle/rate-limit-store.js';

const HEALTH_PATH = '/healthz';

/**
 * The limiter, preceded by a guard that every request has a client IP to count it under:
 * none means the connection is already gone (nobody to answer); something that is not an
 * IP means a trusted proxy passed on a malformed X-Forwarded-For (e.g. "host:port"), which
 * is refused rather than counted (and throttled, and bound to sessions) under a made-up key.
 * Build it once per app (express-rate-limit refuses a store shared between limiters).
 */
export function globalRateLimit(ctx: AppContext): RequestHandler[] {
  const { window, max } = ctx.config.rate_limit;
  const requireClientIp: RequestHandler = (req, res, next) => {
    if (req.ip === undefined) {
      req.socket.destroy();
      return;
    }
    if (isIP(req.ip) === 0) {
      sendError(req, res, new AppError('bad-forwarded-for', 400, 'The client address forwarded by the proxy (X-Forwarded-For) is not an IP address.'));
      return;
    }
    next();
  };
  const limiter = rateLimit({
    windowMs: window,
    limit: max,
    standardHeaders: 'draft-8',
    legacyHeaders: false,
    // The default key: req.ip (Express's `trust proxy` = server.trusted_proxies, never
    // `true`), IPv6 grouped by /56, the usual size of one customer's prefix.
    ipv6Subnet: 56,
    store: new SqliteRateLimitStore(ctx.db, ctx.clock, { prefix: 'rl:' }),
    // A database error fails closed: the error handler answers 503.
    passOnStoreError: false,
    // The health check is exempt: it is one database read (cheaper than the limiter's own
    // write), monitors poll it, and it must keep answering its JSON 503 when the database is
    // gone, which the limiter (failing closed on that same database) would replace.
    skip: (req) => req.path === HEALTH_PATH,
    validate: {
      // gatehouse, like Express, deliberately ignores the standard `Forwarded` header: the
      // client address comes only from X-Forwarded-For added by a trusted proxy. This check
      // cannot tell a proxy from any client that sends the header, so it would print an
      // error whenever someone on the internet sends one; the other checks stay on.
      forwardedHeader: false,
    },
    handler: (req, res) => {
      const wait = Number(res.getHeader('Retry-After')) || Math.ceil(window / 1000);
      sendError(req, res, new AppError('rate-limited', 429, `Too many requests from your address. Wait ${wait} seconds and try again.`));
    },
  });
  return [requireClientIp, limiter];
}

/**
 * Who causes a password strength estimate in this request, charged to the strength budget
 * (src/throttle/strength-budget.ts): the signed-in user, else (the setup page's visitor)
 * the client address, IPv6 grouped by /56 as above.
 */
export function strengthRequester(ctx: AppContext, req: Request): Requester {
  const user = req.user as Express.User | undefined;
  return ctx.strengthBudget.requester(user ? `user:${user.id}` : `ip:${ipKeyGenerator(req.ip ?? '', 56)}`);
}
