// The forward-auth endpoints for reverse proxies, on raw Node requests so the hot path
// skips the Express chain: read the original request, check the session or API token
// (from memory when warm), apply the access rules, answer 200 with all four Remote-* headers
// (empty where there is no value), 401/302, or 403.
//
// Authentication levels: a session that completed the second factor is level 2 and passes
// two_factor rules. A password-only session (level 1) is sent to the portal (401/302), whose
// /login leads a user who has a second factor to /login/second-factor (step-up, no password
// again); a user without any second factor gets 403 there, since no step could satisfy the
// rule until they enroll on /account. API tokens are level 1 and cannot step up: a
// two_factor rule refuses them (403) — a token is a password-equivalent bearer secret.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { isIP } from 'node:net';
import type { Socket } from 'node:net';
import type { Config } from '../config/schema.js';
import type { Clock } from '../lib/clock.js';
import type { Logger } from '../lib/log.js';
import { FORWARD_AUTH_TIMING_SAMPLE, type ForwardAuthCredential, type ForwardAuthKind, type ForwardAuthOutcome, type Metrics } from '../metrics/metrics.js';
import { passwordChangeRequired } from '../passwords/policy.js';
import { cookieNames, ForwardCookieReader, type ForwardCookie } from '../sessions/cookie.js';
import type { Sessions } from '../sessions/sessions.js';
import type { LiveSession } from '../sessions/store.js';
import type { AuthLevel } from '../sessions/types.js';
import { createIpResolver } from '../theft/client-ip.js';
import type { SessionGuard } from '../theft/guard.js';
import type { ApiTokens } from '../tokens/api-tokens.js';
import { createSecondFactorPolicy } from '../twofactor/policy.js';
import type { TwoFactor } from '../twofactor/two-factor.js';
import type { User, UserRepository } from '../users/repository.js';
import { createIpBuckets } from './ip-buckets.js';
import { readForForward, readForVerify, type OriginalRequest } from './original-request.js';
import type { AccessControl, Decision, Subject } from './rules.js';

export const FORWARD_AUTH_PATHS: Record<string, ForwardAuthKind> = { '/auth/verify': 'verify', '/auth/forward': 'forward' };

const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;
/**
 * A gatehouse API token in an Authorization header (the scheme name is case-insensitive,
 * RFC 9110; the token's prefix is not). Any other scheme or token is the upstream's business.
 */
const GATEHOUSE_BEARER = /^\s*[Bb][Ee][Aa][Rr][Ee][Rr]\s+(gth_\S*)\s*$/;

/** Header values are bytes: send UTF-8 as such (what proxies pass on), without control characters. */
function headerValue(text: string): string {
  // The common case, and the same result: nothing to strip, and ASCII is its own UTF-8.
  if (PRINTABLE_ASCII.test(text)) return text;
  return Buffer.from(text.replace(/[\p{Cc}]/gu, ''), 'utf8').toString('latin1');
}

/** A 200 without identity (bypass rules) still names every header a proxy copies. */
const NO_IDENTITY: Readonly<Record<string, string>> = Object.freeze({ 'Remote-User': '', 'Remote-Groups': '', 'Remote-Name': '', 'Remote-Email': '' });

/** The few fixed answer bodies, encoded once. */
const bodies = new Map<string, Buffer>();

function answer(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  // The body goes out as bytes: given a string, Node writes the header block together with
  // it in the body's encoding (UTF-8), which would encode Remote-Name's UTF-8 bytes twice.
  let bytes = bodies.get(body);
  if (!bytes) {
    bytes = Buffer.from(body, 'utf8');
    if (bodies.size < 64) bodies.set(body, bytes);
  }
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store', 'Content-Length': bytes.length, ...headers });
  res.end(res.req.method === 'HEAD' ? undefined : bytes);
}

/** What forward auth works with; the app context has all of it. */
export interface ForwardAuthDeps {
  config: Pick<Config, 'server' | 'session' | 'rate_limit' | 'portal_url' | 'two_factor' | 'password'>;
  clock: Clock;
  log: Logger;
  metrics: Pick<Metrics, 'forwardAuth' | 'forwardAuthDuration'>;
  sessions: Pick<Sessions, 'lookupForward' | 'recordUseHash'>;
  guard: SessionGuard;
  users: Pick<UserRepository, 'findById'>;
  tokens: Pick<ApiTokens, 'authenticate'>;
  access: Pick<AccessControl, 'decide'>;
  twoFactor: Pick<TwoFactor, 'isEnabled'>;
}

export function createForwardAuth(ctx: ForwardAuthDeps) {
  const ips = createIpResolver(ctx.config.server.trusted_proxies);
  const names = cookieNames(ctx.config.session);
  // A generous per-client budget against a runaway client; in memory (see ip-buckets.ts).
  const buckets = createIpBuckets(ctx.clock, { max: ctx.config.rate_limit.forward_auth_max, windowMs: ctx.config.rate_limit.window });
  const cookies = new ForwardCookieReader(ctx.config.session.cache_size);
  const portal = ctx.config.portal_url?.replace(/\/$/, '') ?? null;
  const secondFactorPolicy = createSecondFactorPolicy(ctx.config.two_factor);
  // The store hands out a new LiveSession object whenever a session's data changes, so a
  // level read from the JSON once holds for that object (warm sessions parse it once).
  const levels = new WeakMap<LiveSession, AuthLevel>();
  const levelOf = (live: LiveSession): AuthLevel => {
    let level = levels.get(live);
    if (level === undefined) {
      try {
        level = (JSON.parse(live.data) as { auth?: { level?: unknown } }).auth?.level === 2 ? 2 : 1;
      } catch {
        level = 1; // unreadable data proves nothing beyond the password
      }
      levels.set(live, level);
    }
    return level;
  };
  // A connection's peer address never changes, and proxies keep connections alive: judge
  // each socket once instead of parsing its address on every request.
  const trustedSockets = new WeakMap<Socket, boolean>();
  const peerIsTrusted = (req: IncomingMessage): boolean => {
    let trusted = trustedSockets.get(req.socket);
    if (trusted === undefined) {
      trusted = ips.peerIsTrusted(req);
      trustedSockets.set(req.socket, trusted);
    }
    return trusted;
  };

  // Every check is counted (an array increment, see ForwardAuthTally), but logged only at
  // debug: an info line per check would be most of the log and cost the hot path.
  const tally = ctx.metrics.forwardAuth;
  const debug = ctx.log.isLevelEnabled('debug');
  function count(kind: ForwardAuthKind, outcome: ForwardAuthOutcome, credential: ForwardAuthCredential, ip?: string, host?: string): void {
    tally.add(kind, outcome, credential);
    if (debug) ctx.log.debug({ endpoint: kind, outcome, credential, ip, host }, 'forward-auth check');
  }

  function loginUrl(original: OriginalRequest): string | null {
    return portal ? `${portal}/login?rd=${encodeURIComponent(original.url)}` : null;
  }

  /**
   * The signed-in user behind the request's forward-auth cookie (with the session's level),
   * or null; the same checks as pages.
   */
  function signedInUser(cookie: ForwardCookie, clientIp: string, kind: ForwardAuthKind): Subject & User | null {
    const live = ctx.sessions.lookupForward(cookie.hash);
    if (!live || live.userId === null) return null;
    cookies.remember(cookie);
    // The same theft check as pages: used from an address the binding does not allow, the
    // session ends here and the request is answered as signed out.
    if (!ctx.guard.admit(live, clientIp, kind)) return null;
    const user = ctx.users.findById(live.userId);
    if (!user || user.disabled) return null;
    // A user who must choose a new password (reset by an administrator, or past
    // password.max_age) is sent to the portal first, as the pages do.
    if (passwordChangeRequired(user, ctx.config.password.max_age, ctx.clock.now())) return null;
    const level = levelOf(live);
    // A user the two_factor config obliges to use a second factor counts as signed in only
    // at level 2: the portal then asks for the step, or sends them to enroll, as pages do.
    if (level !== 2 && secondFactorPolicy.required(user, clientIp)) return null;
    ctx.sessions.recordUseHash(live.hash);
    return level === 2 ? { ...user, level } : user;
  }

  /**
   * The owner of a personal API token (any scope proves identity), or null when the token
   * is malformed, unknown, expired or revoked, or its owner is disabled or must change
   * their password. ApiTokens answers from memory and records the use at most once a minute.
   */
  function tokenUser(bearer: string, clientIp: string): User | null {
    const token = ctx.tokens.authenticate(bearer, clientIp);
    // The proxy passes the Authorization header on to the home service behind it: an
    // admin-scoped token would hand that service the keys to gatehouse. Only read and write
    // tokens open home services.
    if (!token || token.scope === 'admin') return null;
    const user = ctx.users.findById(token.userId);
    if (!user || user.disabled || passwordChangeRequired(user, ctx.config.password.max_age, ctx.clock.now())) return null;
    return user;
  }

  function refuse(res: ServerResponse, kind: ForwardAuthKind, req: IncomingMessage, original: OriginalRequest, decision: Decision): void {
    const location = loginUrl(original);
    if (decision.outcome === 'deny') return answer(res, 403, 'Forbidden\n');
    if (kind === 'verify') return answer(res, 401, 'Unauthorized\n', location ? { Location: location } : {});
    // Caddy/Traefik pass our answer to the client: browsers get a redirect, scripts a 401.
    const accept = req.headers.accept ?? '';
    const xhr = (req.headers['x-requested-with'] ?? '').toString().toLowerCase() === 'xmlhttprequest';
    if (location && !xhr && /text\/html/.test(accept)) {
      return answer(res, original.method === 'GET' || original.method === 'HEAD' ? 302 : 303, 'Redirecting to sign in\n', { Location: location });
    }
    answer(res, 401, 'Unauthorized\n');
  }

  function check(req: IncomingMessage, res: ServerResponse, kind: ForwardAuthKind): void {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      count(kind, 'bad-request', 'none');
      return answer(res, 405, 'Method Not Allowed\n', { Allow: 'GET, HEAD' });
    }
    // Only a trusted proxy may tell us about an original request; a client talking to us
    // directly could otherwise claim any URL, host or address.
    if (!peerIsTrusted(req)) {
      count(kind, 'bad-request', 'none');
      return answer(res, 400, 'Forward-auth requests must come from a trusted proxy (server.trusted_proxies).\n');
    }
    const parsed = kind === 'verify' ? readForVerify(req) : readForForward(req);
    if (!parsed.ok) {
      count(kind, 'bad-request', 'none');
      return answer(res, 400, `${parsed.message}\n`);
    }
    const original = parsed.request;
    // The client IP (X-Forwarded-For walked through the trusted proxies), worked out
    // eagerly: it is cheap, and a lazy getter or closure per request made V8 keep request
    // garbage past young-generation collections (-30 % req/s, +55 MB RSS; npm run bench).
    const ip = ips.clientIp(req);
    if (isIP(ip) === 0) {
      count(kind, 'bad-request', 'none', undefined, original.host);
      return answer(res, 400, 'The proxy sent an X-Forwarded-For that does not end in an IP address.\n');
    }
    const wait = buckets.take(ip);
    if (wait > 0) {
      count(kind, 'rate-limited', 'none', ip, original.host);
      return answer(res, 429, 'Too Many Requests\n', { 'Retry-After': String(wait) });
    }
    let user: (Subject & User) | null;
    let decision: Decision;
    let credential: ForwardAuthCredential = 'none';
    try {
      // The cookie path pays one property read for this. A request presenting a gatehouse
      // token is judged by that token alone: a bad one is no credential, whatever cookie
      // comes with it. Other Authorization values (Basic for the upstream app) are ignored.
      const authorization = req.headers.authorization;
      const bearer = authorization === undefined ? null : GATEHOUSE_BEARER.exec(authorization);
      // Only the forward-auth cookie counts here; the portal's own cookie is for the portal.
      let cookie: ForwardCookie | null = null;
      if (bearer) credential = 'token';
      else if ((cookie = cookies.read(req.headers.cookie, original.proto === 'https' ? names.forwardSecure : names.forwardPlain))) credential = 'cookie';
      user = bearer ? tokenUser(bearer[1] as string, ip) : cookie ? signedInUser(cookie, ip, kind) : null;
      decision = ctx.access.decide({ host: original.host, path: original.path, method: original.method, ip }, user);
      // A two_factor rule and a level-1 credential: the second step only helps a session
      // whose user has a factor; a token or a user without one is refused outright.
      if (decision.reason === 'second-factor-required' && user && (credential === 'token' || !ctx.twoFactor.isEnabled(user.id))) {
        decision = { ...decision, outcome: 'deny' };
      }
    } catch (err) {
      // Fail closed: no answer from the database is never a 200.
      ctx.log.error({ err, kind }, 'forward-auth check failed');
      count(kind, 'error', credential, ip, original.host);
      return answer(res, 503, 'Service Unavailable\n', { 'Retry-After': '5' });
    }
    if (decision.outcome !== 'allow') {
      count(kind, decision.outcome === 'deny' ? 'deny' : 'unauthenticated', credential, ip, original.host);
      return refuse(res, kind, req, original, decision);
    }
    count(kind, 'allow', credential, ip, original.host);
    // Every 200 names all four headers, empty where there is no value (bypass: no identity),
    // so a proxy copying them always overwrites what the client sent: Caddy 2.6 writes a
    // literal placeholder for a missing one, 2.9–2.11.1 passes the client's (CVE-2026-30851).
    const headers =
      user && decision.policy !== 'bypass'
        ? {
            'Remote-User': headerValue(user.username),
            'Remote-Groups': headerValue(user.groups.join(',')),
            'Remote-Name': headerValue(user.displayName),
            'Remote-Email': headerValue(user.email ?? ''),
          }
        : NO_IDENTITY;
    answer(res, 200, 'OK\n', headers);
  }

  // One check in FORWARD_AUTH_TIMING_SAMPLE is timed: the check is synchronous, so this
  // is its whole cost to us, and the rest pay one decrement.
  let untilTimed = FORWARD_AUTH_TIMING_SAMPLE;
  return function handle(req: IncomingMessage, res: ServerResponse, kind: ForwardAuthKind): void {
    if (--untilTimed > 0) return check(req, res, kind);
    untilTimed = FORWARD_AUTH_TIMING_SAMPLE;
    const start = performance.now();
    check(req, res, kind);
    ctx.metrics.forwardAuthDuration(kind, (performance.now() - start) / 1000);
  };
}
