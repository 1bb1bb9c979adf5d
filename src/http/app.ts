// Assembles the Express application from the context. createApp never listens.

import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import express, { type Express } from 'express';
import helmet from 'helmet';
import { createForwardAuth, FORWARD_AUTH_PATHS } from '../access/forward-auth.js';
import { createPassport } from '../auth/passport.js';
import type { AppContext } from '../context.js';
import { publicDir } from '../lib/paths.js';
import { observeRequests } from './observe-requests.js';
import { errorHandler, notFoundHandler, sendError } from './errors.js';
import { AppError } from '../lib/errors.js';
import { busy } from '../throttle/hash-gate.js';
import { createGuards } from './guards.js';
import { globalRateLimit } from './rate-limit.js';
import { routeTable } from './routes.js';
import { sessionMiddleware, theftCheck } from './session.js';
import { createViews } from './views.js';

/** Form posts that run argon2. */
const HASHING_PATHS = new Set(['/login', '/setup']);

export function createApp(ctx: AppContext): Express {
  const app = express();
  // Forward auth answers before anything else (no helmet, no session middleware): it is
  // the hot path. createRequestListener routes it around Express entirely.
  const forwardAuth = createForwardAuth(ctx);
  app.use((req, res, next) => {
    const kind = FORWARD_AUTH_PATHS[req.path];
    if (kind) forwardAuth(req, res, kind);
    else next();
  });
  app.disable('x-powered-by');
  // Client IP and protocol come from X-Forwarded-* only when the TCP peer is a trusted proxy.
  app.set('trust proxy', ctx.config.server.trusted_proxies);
  app.set('query parser', 'simple');
  const views = createViews();
  views.express(app);
  app.set('view engine', 'njk');

  // Request id, the log line and the metrics of every page and API request (first, so
  // the early refusals below are logged and counted too).
  app.use(observeRequests(ctx));
  app.use((req, res, next) => {
    // In a login storm the hash queue fills up: refuse further sign-ins before any work
    // (rate-limit write, session load, page rendering), so the event loop stays free for
    // the forward-auth checks and the sign-ins already queued (bench/login-storm.ts).
    if (req.method === 'POST' && HASHING_PATHS.has(req.path) && ctx.hashGate.full) {
      if (req.path === '/login') ctx.metrics.login('busy');
      res.writeHead(503, { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store', 'Retry-After': '5' });
      res.end(`${busy().publicMessage}\n`);
      return;
    }
    if (req.method === 'TRACE' || req.method === 'TRACK') {
      res.set('Allow', 'GET, HEAD, POST');
      return sendError(req, res, new AppError('method-not-allowed', 405, 'This method is not allowed.'));
    }
    next();
  });
  app.use(
    helmet({
      contentSecurityPolicy: {
        useDefaults: false,
        directives: {
          defaultSrc: ["'self'"],
          scriptSrc: ["'self'"],
          styleSrc: ["'self'"],
          imgSrc: ["'self'", 'data:'],
          objectSrc: ["'none'"],
          baseUri: ["'none'"],
          frameAncestors: ["'none'"],
          // After sign-in the browser is redirected to `rd`, which may be another host in
          // the cookie domain; form-action also governs that redirect in Chromium.
          // ":*" because a host-source without a port only matches the default port.
          formAction: ["'self'", ...(ctx.config.session.cookie_domain ? [`https://${ctx.config.session.cookie_domain}:*`, `https://*.${ctx.config.session.cookie_domain}:*`] : [])],
        },
      },
      // Neither the setup token nor an `rd` URL may leak to another site. Not
      // 'no-referrer': with it Chromium sends `Origin: null` on our own form posts, which
      // the same-origin check must refuse.
      referrerPolicy: { policy: 'same-origin' },
      strictTransportSecurity: { maxAge: 31_536_000, includeSubDomains: false },
    }),
  );
  app.use(express.static(publicDir, { index: false, maxAge: '1h', fallthrough: true }));
  // Every route after the static files is rate limited per client IP, before the session
  // middleware so a flood never reaches the session store.
  app.use(globalRateLimit(ctx));

  const guards = createGuards(ctx);
  const passport = createPassport(ctx);
  const routes = routeTable(ctx, guards, passport);
  for (const r of routes.filter((r) => !r.session)) app[r.method](r.path, ...r.chain);
  app.use(sessionMiddleware(ctx), theftCheck(ctx), passport.initialize(), passport.session());
  for (const r of routes.filter((r) => r.session)) app[r.method](r.path, ...r.chain);

  app.use(notFoundHandler);
  app.use(errorHandler(ctx.log));
  return app;
}

/**
 * The server's request listener: forward-auth checks go straight to their handler (no
 * Express routing or middleware on the hot path); everything else goes to the app.
 */
export function createRequestListener(ctx: AppContext, app: Express = createApp(ctx)): RequestListener {
  const forwardAuth = createForwardAuth(ctx);
  return (req: IncomingMessage, res: ServerResponse) => {
    const url = req.url ?? '/';
    // "OPTIONS *" and absolute-form targets are not for us; Express would fail on them.
    if (!url.startsWith('/')) {
      res.writeHead(400, { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store' });
      res.end('Bad request target\n');
      return;
    }
    const q = url.indexOf('?');
    const kind = FORWARD_AUTH_PATHS[q === -1 ? url : url.slice(0, q)];
    if (kind) forwardAuth(req, res, kind);
    else app(req, res);
  };
}
