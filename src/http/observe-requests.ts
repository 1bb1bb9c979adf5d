// Per-request observation for pages and APIs: the request id (X-Request-Id), one log line
// per request, and the HTTP request metrics. Forward-auth checks never come through here.

import { randomBytes } from 'node:crypto';
import type { Request, RequestHandler, Response } from 'express';
import type { AppContext } from '../context.js';
import { clientIp, createIpResolver } from '../theft/client-ip.js';

/** An id a proxy may hand us: short and printable ASCII without spaces (it goes into logs and a header). */
const INCOMING_ID = /^[\x21-\x7e]{1,64}$/;

/** Requests logged at debug when they succeed: probes and scrapes would drown the rest. */
const QUIET_ROUTES = new Set(['/healthz', '/metrics']);

/** The route pattern ("/admin/users/:username"), never the path itself: bounded and free of ids and query strings. */
export function routeLabel(req: Request): string {
  const route = (req as Request & { route?: { path?: unknown } }).route;
  return typeof route?.path === 'string' ? route.path : '(no route)';
}

export function observeRequests(ctx: AppContext): RequestHandler {
  const ips = createIpResolver(ctx.config.server.trusted_proxies);
  const metrics = ctx.metrics;
  const log = ctx.log;
  return (req, res, next) => {
    const start = performance.now();
    // A trusted proxy's id ties our line to its access log; anyone else's is ignored (it
    // could be chosen to collide with or forge another request's id).
    const incoming = req.headers['x-request-id'];
    const requestId = typeof incoming === 'string' && INCOMING_ID.test(incoming) && ips.peerIsTrusted(req) ? incoming : randomBytes(8).toString('hex');
    res.locals.requestId = requestId;
    res.setHeader('X-Request-Id', requestId);
    res.once('close', () => finished(req, res, requestId, start));
    next();
  };

  function finished(req: Request, res: Response, requestId: string, start: number): void {
    const seconds = (performance.now() - start) / 1000;
    const route = routeLabel(req);
    const status = res.statusCode;
    metrics.httpRequest(route, req.method, status, seconds);
    // The method, route pattern, status and timing: never the URL (its query string can
    // carry `rd`, a setup token, or a password reset link), never headers or cookies.
    const line = {
      requestId,
      method: req.method,
      route,
      status,
      ms: Math.round(seconds * 10_000) / 10,
      ip: clientIp(req),
      ...(res.writableFinished ? {} : { aborted: true }),
    };
    const quiet = status < 400 && (route === '(no route)' || QUIET_ROUTES.has(route));
    if (quiet) log.debug(line, 'request');
    else log.info(line, 'request');
  }
}
