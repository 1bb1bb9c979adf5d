// Authentication and authorization for /api/v1: a personal API token (`Authorization:
// Bearer`, scoped) or the session cookie (state changes then need X-CSRF-Token and a
// same-origin request). JSON bodies are parsed here, small and shallow.

import type { Request, RequestHandler } from 'express';
import type { AppContext } from '../context.js';
import type { Guards } from '../http/guards.js';
import { strictJson } from '../http/json-body.js';
import { passwordChangeRequired } from '../passwords/policy.js';
import { createSecondFactorPolicy, missingSecondFactor } from '../twofactor/policy.js';
import { authLevel } from '../sessions/types.js';
import { AppError } from '../lib/errors.js';
import { clientIp } from '../theft/client-ip.js';
import { scopeAllows, type TokenInfo, type TokenScope } from '../tokens/api-tokens.js';
import { isAdmin } from '../users/groups.js';

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      /** Set when the request authenticated with an API token rather than the session cookie. */
      apiToken?: TokenInfo;
    }
  }
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
const MAX_JSON_DEPTH = 4;

/** Paths a user who must change their password may still use. */
const ALLOWED_BEFORE_PASSWORD_CHANGE = new Set(['/api/v1/me', '/api/v1/me/password', '/api/v1/csrf']);

function depth(value: unknown, level = 0): number {
  if (level > MAX_JSON_DEPTH || value === null || typeof value !== 'object') return level;
  let max = level;
  for (const v of Object.values(value as Record<string, unknown>)) max = Math.max(max, depth(v, level + 1));
  return max;
}

const invalidToken = () => new AppError('invalid-token', 401, 'The API token is missing, malformed, expired or revoked.');

export interface ApiGuards {
  /** JSON bodies only (415 otherwise), at most 16 kB and 4 levels deep. */
  json: RequestHandler;
  /** A token's scope (and for `admin`, membership of the admins group) must cover the route. */
  read: RequestHandler[];
  write: RequestHandler[];
  admin: RequestHandler[];
  /** Cookie sessions only (creating tokens, re-authenticating): a token cannot mint tokens. */
  sessionOnly: RequestHandler[];
  /** After `admin` or `sessionOnly`: a cookie session must have passed the account's second factor and authenticated recently (403 second-factor-required, reauth-required). */
  recentAuth: RequestHandler;
}

export function createApiGuards(ctx: AppContext, guards: Guards): ApiGuards {
  const parseJson = strictJson('16kb');

  const json: RequestHandler = (req, res, next) => {
    if (SAFE_METHODS.has(req.method) || req.method === 'DELETE') return next();
    const length = Number(req.headers['content-length'] ?? 0);
    const chunked = req.headers['transfer-encoding'] !== undefined;
    if (length === 0 && !chunked) {
      req.body = {};
      return next();
    }
    if (!req.is('application/json')) return next(new AppError('unsupported-media-type', 415, 'Send the body as application/json.'));
    // JSON is UTF-8 (RFC 8259); the parser would also decode UTF-7 and UTF-16, which can
    // smuggle characters past filters that look at the raw bytes.
    const charset = /;\s*charset\s*=\s*"?([^";\s]*)/i.exec(req.headers['content-type'] ?? '')?.[1]?.toLowerCase();
    if (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8') {
      return next(new AppError('unsupported-charset', 415, 'Send the body as UTF-8 JSON.'));
    }
    parseJson(req, res, (err?: unknown) => {
      if (err) return next(err);
      const body: unknown = req.body;
      if (body === null || typeof body !== 'object' || Array.isArray(body)) return next(new AppError('malformed-body', 400, 'The body must be a JSON object.'));
      if (depth(body) > MAX_JSON_DEPTH) return next(new AppError('malformed-body', 400, `The JSON body is nested more than ${MAX_JSON_DEPTH} levels deep.`));
      next();
    });
  };

  /** Resolves who is calling: a bearer token wins over the cookie (it is never ambient). */
  const authenticate: RequestHandler = (req, res, next) => {
    // Every API answer is about someone: never stored by a browser or proxy cache.
    res.set('Cache-Control', 'no-store');
    const header = req.headers.authorization;
    if (header !== undefined) {
      const match = /^Bearer ([\x21-\x7e]{1,200})$/i.exec(header.trim());
      const token = match ? ctx.tokens.authenticate(match[1] as string, clientIp(req)) : null;
      const user = token ? ctx.users.findById(token.userId) : null;
      if (!token || !user || user.disabled) {
        res.set('WWW-Authenticate', 'Bearer realm="gatehouse", error="invalid_token"');
        return next(invalidToken());
      }
      req.apiToken = token;
      req.user = user as Express.User;
      return next();
    }
    if (!req.user) {
      res.set('WWW-Authenticate', 'Bearer realm="gatehouse"');
      return next(new AppError('not-signed-in', 401, 'Sign in, or send a personal API token as "Authorization: Bearer <token>".'));
    }
    next();
  };

  // Tokens too: a reset password means the account may be in the wrong hands, and forward
  // auth refuses such a user's tokens as well. GET /me still tells the script why.
  const passwordGate: RequestHandler = (req, _res, next) => {
    const user = req.user as Express.User;
    if (!passwordChangeRequired(user, ctx.config.password.max_age, ctx.clock.now())) return next();
    if (ALLOWED_BEFORE_PASSWORD_CHANGE.has(req.path)) return next();
    next(new AppError('password-change-required', 403, 'Choose a new password first (PUT /api/v1/me/password).'));
  };

  /**
   * Cookie sessions follow the same two_factor policy as the pages: a user who must use a
   * second factor and has none, or whose session has not passed it, may only read /me
   * until they have (in the browser: /account/two-factor or /login/second-factor).
   * Tokens are their own credential (created from a session that passed these checks).
   */
  const secondFactorGate: RequestHandler = (req, _res, next) => {
    const user = req.user as Express.User;
    if (req.apiToken || ALLOWED_BEFORE_PASSWORD_CHANGE.has(req.path)) return next();
    const hasFactor = () => ctx.twoFactor.isEnabled(user.id);
    const required = secondFactorPolicy.required(user, clientIp(req));
    const missing = required ? missingSecondFactor(authLevel(req.session.auth), hasFactor) : 'none';
    if (missing === 'enroll') return next(new AppError('second-factor-enrollment-required', 403, 'Set up two-factor sign-in first (/account/two-factor).'));
    if (missing === 'step-up') return next(new AppError('second-factor-required', 403, 'Complete the second sign-in step first (/login/second-factor).'));
    next();
  };

  /** Admin operations from a cookie session: the admin's second factor, when they have one. */
  const adminLevel: RequestHandler = (req, _res, next) => {
    const user = req.user as Express.User;
    if (req.apiToken || authLevel(req.session.auth) === 2 || !ctx.twoFactor.isEnabled(user.id)) return next();
    next(new AppError('second-factor-required', 403, 'Complete the second sign-in step first (/login/second-factor).'));
  };

  /** Cookie sessions: state changes are same-origin and carry X-CSRF-Token. */
  const csrfForCookies: RequestHandler = (req, res, next) => {
    if (req.apiToken || SAFE_METHODS.has(req.method)) return next();
    guards.sameOrigin(req, res, (err?: unknown) => (err ? next(err) : guards.requireCsrf(req, res, next)));
  };

  const needScope =
    (scope: TokenScope): RequestHandler =>
    (req: Request, _res, next) => {
      const user = req.user as Express.User;
      if (scope === 'admin' && !isAdmin(user.groups)) return next(new AppError('forbidden', 403, 'This needs an administrator.'));
      const token = req.apiToken;
      const needed: TokenScope = scope === 'read' && !SAFE_METHODS.has(req.method) ? 'write' : scope;
      if (token && !scopeAllows(token.scope, needed)) {
        return next(new AppError('insufficient-scope', 403, `This API token has the "${token.scope}" scope; this needs "${needed}".`));
      }
      next();
    };

  const sessionOnly: RequestHandler = (req, _res, next) => {
    if (req.apiToken) return next(new AppError('session-required', 403, 'This needs a signed-in browser session; API tokens cannot do it.'));
    next();
  };

  /**
   * Dangerous admin operations and creating tokens from a cookie session: the pages' rule
   * (guards.requireRecentAuth: the second factor when the account has one, and a recent
   * authentication; the client calls POST /api/v1/me/reauth). Admin-scoped tokens are
   * exempt: a script cannot type a password, and minting such a token already required a
   * signed-in admin who passed the same rule.
   */
  const recentAuth: RequestHandler = (req, res, next) => {
    if (req.apiToken) return next();
    guards.requireRecentAuth(req, res, next);
  };

  // Who, then may they, then the body: nothing is read from a caller who may not call.
  const secondFactorPolicy = createSecondFactorPolicy(ctx.config.two_factor);
  const base = [authenticate, passwordGate, secondFactorGate, csrfForCookies];
  return {
    json,
    read: [...base, needScope('read'), json],
    write: [...base, needScope('write'), json],
    admin: [...base, needScope('admin'), adminLevel, json],
    sessionOnly: [...base, sessionOnly, json],
    recentAuth,
  };
}
