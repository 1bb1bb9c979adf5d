// GET /metrics: the Prometheus text format, only when metrics.enabled and only to clients
// in metrics.networks; everyone else gets the ordinary 404 page, so the endpoint is not
// revealed to the outside.

import type { RequestHandler } from 'express';
import proxyaddr from 'proxy-addr';
import type { AppContext } from '../context.js';
import { notFoundHandler } from '../http/errors.js';
import { clientIp } from '../theft/client-ip.js';

export function metricsRoute(ctx: AppContext): RequestHandler {
  const { enabled, networks } = ctx.config.metrics;
  // proxy-addr's matcher: the same CIDR and name handling ("loopback") as trusted_proxies.
  const allowed = proxyaddr.compile(networks);
  return (req, res, next) => {
    // The client IP as every other route sees it: X-Forwarded-For counts only through a
    // trusted proxy, so a spoofed header from anywhere else is the peer's own address.
    if (!enabled || !allowed(clientIp(req), 0)) return notFoundHandler(req, res, next);
    ctx.metrics.registry.metrics().then(
      (text) => {
        res.status(200).set({ 'Content-Type': ctx.metrics.registry.contentType, 'Cache-Control': 'no-store' }).send(text);
      },
      (err: unknown) => next(err),
    );
  };
}
