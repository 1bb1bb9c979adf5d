// The Prometheus metrics (prom-client, on a registry of our own): what is counted, with
// bounded labels only (route patterns and fixed outcome names, never users, IPs or paths).

import type { Statement } from 'better-sqlite3';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { SessionEndReason } from '../audit/events.js';
import type { Config } from '../config/schema.js';
import type { Db } from '../db/connection.js';
import type { Clock } from '../lib/clock.js';

export const FORWARD_AUTH_OUTCOMES = ['allow', 'deny', 'unauthenticated', 'bad-request', 'rate-limited', 'error'] as const;
export type ForwardAuthOutcome = (typeof FORWARD_AUTH_OUTCOMES)[number];
/** What the check was judged on; refusals before the credential is read count as `none`. */
export const FORWARD_AUTH_CREDENTIALS = ['cookie', 'token', 'none'] as const;
export type ForwardAuthCredential = (typeof FORWARD_AUTH_CREDENTIALS)[number];
/** The forward-auth endpoints: /auth/verify and /auth/forward (src/access/forward-auth.ts). */
export type ForwardAuthKind = 'verify' | 'forward';
const FORWARD_AUTH_KINDS: readonly ForwardAuthKind[] = ['verify', 'forward'];

export const LOGIN_OUTCOMES = ['succeeded', 'failed', 'throttled', 'busy'] as const;
export type LoginOutcome = (typeof LOGIN_OUTCOMES)[number];

/** Every reason a session can end: `satisfies` makes the compiler catch a new one. */
const END_REASONS = Object.keys({
  logout: true,
  expired: true,
  'ip-mismatch': true,
  revoked: true,
  'password-changed': true,
  'user-disabled': true,
  'user-deleted': true,
  'session-limit': true,
  regenerated: true,
  cleared: true,
  'second-factor-enrolled': true,
  'second-factor-reset': true,
} satisfies Record<SessionEndReason, true>) as SessionEndReason[];

/** Methods get their own label value; anything else (WebDAV verbs, typos) is `other`. */
const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

/** Gauges that need a database query are computed at scrape time at most this often. */
const GAUGE_CACHE_MS = 5_000;

/** Forward-auth checks are timed one in this many: timing every check costs the hot path. */
export const FORWARD_AUTH_TIMING_SAMPLE = 64;

/**
 * Forward-auth decisions counted in a plain array: the hot path pays an increment, not
 * prom-client's label hashing; the totals are copied into the counter at scrape time.
 */
export class ForwardAuthTally {
  readonly counts = new Float64Array(FORWARD_AUTH_KINDS.length * FORWARD_AUTH_OUTCOMES.length * FORWARD_AUTH_CREDENTIALS.length);
  private static readonly outcome = Object.fromEntries(FORWARD_AUTH_OUTCOMES.map((o, i) => [o, i])) as Record<ForwardAuthOutcome, number>;
  private static readonly credential = Object.fromEntries(FORWARD_AUTH_CREDENTIALS.map((c, i) => [c, i])) as Record<ForwardAuthCredential, number>;

  add(kind: ForwardAuthKind, outcome: ForwardAuthOutcome, credential: ForwardAuthCredential): void {
    const k = kind === 'verify' ? 0 : 1;
    this.counts[(k * FORWARD_AUTH_OUTCOMES.length + ForwardAuthTally.outcome[outcome]) * FORWARD_AUTH_CREDENTIALS.length + ForwardAuthTally.credential[credential]]! += 1;
  }

  /** Every label combination with its total, zeros included (series exist from the start). */
  *entries(): Generator<[labels: { endpoint: ForwardAuthKind; outcome: ForwardAuthOutcome; credential: ForwardAuthCredential }, total: number]> {
    let i = 0;
    for (const endpoint of FORWARD_AUTH_KINDS) {
      for (const outcome of FORWARD_AUTH_OUTCOMES) {
        for (const credential of FORWARD_AUTH_CREDENTIALS) yield [{ endpoint, outcome, credential }, this.counts[i++] as number];
      }
    }
  }
}

/** Sessions ending, as the sessions domain reports them (see src/sessions/sessions.ts). */
export interface SessionEndings {
  on(event: 'sessions-ended', listener: (reason: SessionEndReason, count: number) => void): unknown;
}

export interface Metrics {
  /** Whether GET /metrics answers (metrics.enabled); counting happens either way. */
  readonly enabled: boolean;
  readonly registry: Registry;
  readonly forwardAuth: ForwardAuthTally;
  /** One page or API request, by route pattern (never the raw path). */
  httpRequest(route: string, method: string, status: number, seconds: number): void;
  /** One forward-auth check of the timing sample, in seconds (handler time, not network). */
  forwardAuthDuration(kind: ForwardAuthKind, seconds: number): void;
  login(outcome: LoginOutcome): void;
}

const statusClass = (status: number): string => `${Math.floor(status / 100)}xx`;

/** A value read from the database at most every GAUGE_CACHE_MS. */
function cached<T>(clock: Clock, read: () => T): () => T {
  let at = -Infinity;
  let value: T;
  return () => {
    const now = clock.now();
    if (now - at >= GAUGE_CACHE_MS) {
      value = read();
      at = now;
    }
    return value;
  };
}

export function createMetrics(config: Config, db: Db, clock: Clock, sessions: SessionEndings): Metrics {
  const registry = new Registry();
  const registers = [registry];
  // Process metrics (CPU, memory, event-loop lag, GC) only when someone can read them: the
  // event-loop monitor and GC observer are not free.
  if (config.metrics.enabled) collectDefaultMetrics({ register: registry });

  const requests = new Counter({
    name: 'gatehouse_http_requests_total',
    help: 'Page and API requests by route pattern, method and status class (forward-auth checks are in gatehouse_forward_auth_decisions_total).',
    labelNames: ['route', 'method', 'status'] as const,
    registers,
  });
  const durations = new Histogram({
    name: 'gatehouse_http_request_duration_seconds',
    help: 'Time to answer page and API requests, by route pattern (sign-ins include the password hash).',
    labelNames: ['route'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers,
  });
  const forwardAuth = new ForwardAuthTally();
  new Counter({
    name: 'gatehouse_forward_auth_decisions_total',
    help: 'Forward-auth checks by endpoint (verify/forward), outcome and the credential judged (cookie/token/none).',
    labelNames: ['endpoint', 'outcome', 'credential'] as const,
    registers,
    collect() {
      this.reset();
      for (const [labels, total] of forwardAuth.entries()) this.inc(labels, total);
    },
  });
  const forwardAuthDurations = new Histogram({
    name: 'gatehouse_forward_auth_duration_seconds',
    help: `Time gatehouse spends on a forward-auth check, by endpoint; one check in ${FORWARD_AUTH_TIMING_SAMPLE} is timed.`,
    labelNames: ['endpoint'] as const,
    buckets: [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05],
    registers,
  });
  const forwardAuthTimers = { verify: forwardAuthDurations.labels('verify'), forward: forwardAuthDurations.labels('forward') };
  for (const endpoint of FORWARD_AUTH_KINDS) forwardAuthDurations.zero({ endpoint });
  const logins = new Counter({
    name: 'gatehouse_logins_total',
    help: 'Sign-in attempts on the login form by outcome (busy: refused because password hashing was at capacity).',
    labelNames: ['outcome'] as const,
    registers,
  });
  const loginChildren = Object.fromEntries(LOGIN_OUTCOMES.map((o) => [o, logins.labels(o)])) as Record<LoginOutcome, { inc(): void }>;
  for (const outcome of LOGIN_OUTCOMES) logins.inc({ outcome }, 0);

  const ended = new Counter({
    name: 'gatehouse_sessions_ended_total',
    help: 'Signed-in sessions ended, by reason (logout, expired, ip-mismatch, revoked, password-changed, …).',
    labelNames: ['reason'] as const,
    registers,
  });
  for (const reason of END_REASONS) ended.inc({ reason }, 0);
  sessions.on('sessions-ended', (reason, count) => {
    if (count > 0) ended.inc({ reason }, count);
  });

  // The partial index sessions_live_by_expiry answers the count without touching rows;
  // signed-in sessions past their absolute expiry still count until the sweeper ends them.
  const liveCount: Statement = db.prepare('SELECT count(*) FROM sessions WHERE deleted_at IS NULL AND idle_expires_at > ?').pluck();
  const liveSessions = cached(clock, () => liveCount.get(clock.now()) as number);
  new Gauge({
    name: 'gatehouse_sessions_live',
    help: `Sessions not ended or idle-expired, pre-login ones included (read at most every ${GAUGE_CACHE_MS / 1000} s).`,
    registers,
    collect() {
      this.set(liveSessions());
    },
  });
  const banCount: Statement = db.prepare('SELECT scope, count(*) AS n FROM throttle_counters WHERE banned_until > ? GROUP BY scope');
  const bans = cached(clock, () => banCount.all(clock.now()) as Array<{ scope: string; n: number }>);
  new Gauge({
    name: 'gatehouse_throttle_bans_active',
    help: `Active sign-in bans and locks by scope (ip, user, pair) (read at most every ${GAUGE_CACHE_MS / 1000} s).`,
    labelNames: ['scope'] as const,
    registers,
    collect() {
      const now = bans();
      for (const scope of ['ip', 'user', 'pair']) this.set({ scope }, now.find((r) => r.scope === scope)?.n ?? 0);
    },
  });

  // Children by label set, so a request costs one Map lookup after the first of its kind.
  const requestChildren = new Map<string, { inc(): void }>();
  const durationChildren = new Map<string, { observe(value: number): void }>();
  return {
    enabled: config.metrics.enabled,
    registry,
    forwardAuth,
    httpRequest(route, method, status, seconds) {
      const m = METHODS.has(method) ? method : 'other';
      const s = statusClass(status);
      const key = `${route}\0${m}\0${s}`;
      let counter = requestChildren.get(key);
      if (!counter) requestChildren.set(key, (counter = requests.labels(route, m, s)));
      counter.inc();
      let timer = durationChildren.get(route);
      if (!timer) durationChildren.set(route, (timer = durations.labels(route)));
      timer.observe(seconds);
    },
    forwardAuthDuration(kind, seconds) {
      forwardAuthTimers[kind].observe(seconds);
    },
    login(outcome) {
      loginChildren[outcome].inc();
    },
  };
}
