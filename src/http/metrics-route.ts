// GET /metrics: the Prometheus text format, only when metrics.enabled and only to clients
// in metrics.networks; everyone else gets the ordinary 404 page, so the endpoint is not
// revealed to the outside.

import type { RequestHandler } from 'express';
import proxyaddr from 'proxy-addr';
import type { AppContext } from '../context.js';
import { notFoundHandler } from './errors.js';
import { clientHiddenByProxy, clientIp } from '../theft/client-ip.js';

export function metricsRoute(ctx: AppContext): RequestHandler {
  const { enabled, networks } = ctx.config.metrics;
  // proxy-addr's matcher: the same CIDR and name handling ("loopback") as trusted_proxies.
  const allowed = proxyaddr.compile(networks);
  return (req, res, next) => {
    // The client IP as every other route sees it: X-Forwarded-For counts only through a
    // trusted proxy, so a spoofed header from anywhere else is the peer's own address.
    // A local proxy that forwards without X-Forwarded-For would make every client look like
    // the proxy's own (allowed) loopback address: such requests are refused too.
    if (!enabled || clientHiddenByProxy(req) || !allowed(clientIp(req), 0)) return notFoundHandler(req, res, next);
    ctx.metrics.registry.metrics().then(
      (text) => {
        res.status(200).set({ 'Content-Type': ctx.metrics.registry.contentType, 'Cache-Control': 'no-store' }).send(text);
      },
      (err: unknown) => next(err),
    );
  };
}
