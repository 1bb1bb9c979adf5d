// The login regulator: failed sign-ins counted per client address, per username and per
// address+username in SQLite (a restart does not reset them); exponential backoff, then
// bans that double up to a cap. Asked before any password hashing. No HTTP here.
//
// THE LOCKOUT RULE (also in the README, "Brute-force protection"):
//  1. Every failed sign-in counts on up to three counters: the client address (an IPv4
//     address, also when written inside IPv6 as ::ffff:… or ::a.b.c.d (normalizeIp), or the
//     IPv6 /64), the username (from any address) and the pair
//     address+username. A counter forgets its failures once `window` passes without one.
//     Malformed or unsupported usernames count on the address counter only.
//  2. A "known" address for a user is one from which that user has signed in
//     successfully (remembered for KNOWN_IP_RETENTION_MS after the last success). From a
//     known address the username counter does not apply: only the pair counter, locked
//     after `max_failures_known_ip` failures, and the address counter. So a stranger who
//     locks a username cannot lock its owner out of the devices they already use.
//  3. From any other address the username counter applies: after `max_failures_per_user`
//     failures (from all addresses together, known ones included) the username is locked
//     for every address that is not known for it.
//  4. An address is banned, for every username, after `max_failures_per_ip` failures, or
//     when it has failed against `max_usernames_per_ip` different usernames within the
//     window (password spraying; usernames the address is known for do not count).
//  5. Once a counter has `backoff_after` failures, each further attempt must wait 1 s, 2 s,
//     4 s … after the counter's last failure, at most half of `ban`. Attempts still being
//     checked count too, so a burst of parallel guesses cannot slip past a limit.
//  6. A ban or lock lasts `ban`, doubled for each earlier ban the counter still remembers
//     (it remembers until it has been quiet for `window` and `ban_max` has passed since the
//     last ban ended), never longer than `ban_max`.
//  7. A success clears the failures of the username counter and of the pair counter and
//     makes the address known. It does not end a running lock (the owner's known devices
//     are not affected by it anyway) and does not clear the address counter (an attacker
//     with one valid account must not be able to reset their address).
//  8. `gatehouse ban lift <ip|user>` removes the bans and the counters of an address or a
//     username at once.

import { isIP } from 'node:net';
import type { Statement } from 'better-sqlite3';
import type { Audit } from '../audit/events.js';
import type { Config } from '../config/schema.js';
import { inBatches, type BatchOptions } from '../db/batches.js';
import type { Db } from '../db/connection.js';
import type { Clock } from '../lib/clock.js';
import { ipKey } from '../theft/client-ip.js';
import { normalizeUsername } from '../users/username.js';

export type ThrottleSettings = Config['throttle'];
export type ThrottleReason = 'ip-banned' | 'user-locked' | 'backoff';
export type CounterScope = 'ip' | 'user' | 'pair';
export type BanCause = 'failures' | 'spraying';

/** A known address is forgotten this long after its last successful sign-in. */
export const KNOWN_IP_RETENTION_MS = 90 * 86_400_000;
/** What a caller is told to wait while other attempts on the same counter are checked. */
const IN_FLIGHT_RETRY_MS = 1000;
/** An attempt never settled (a bug, a hung request) stops counting as in flight after this. */
const IN_FLIGHT_STALE_MS = 60_000;

export interface Ban {
  scope: CounterScope;
  /** The address key (IPv4, or IPv6 /64); null for a username lock. */
  ip: string | null;
  /** The normalized username; null for an address ban. */
  username: string | null;
  until: number;
  /** How many bans this counter has had (each doubles the next). */
  count: number;
  cause: BanCause;
}

export type Verdict =
  | { allowed: true; attempt: LoginAttempt }
  | { allowed: false; reason: ThrottleReason; /** seconds, at least 1 */ retryAfter: number; until: number };

export type LiftTarget = { kind: 'ip'; key: string } | { kind: 'user'; username: string };

export interface LiftResult {
  target: LiftTarget;
  /** The bans and locks that were active and are now gone. */
  lifted: Ban[];
  /** Counter rows removed (active bans included). */
  cleared: number;
}

interface CounterRow {
  scope: CounterScope;
  ip: string;
  username: string;
  failures: number;
  last_failure_at: number | null;
  banned_until: number | null;
  ban_count: number;
  ban_cause: BanCause | null;
}

interface Counter {
  scope: CounterScope;
  ip: string;
  username: string;
  limit: number;
  /** The reason given while this counter's ban is active. */
  locked: ThrottleReason;
}

const counterId = (c: { scope: string; ip: string; username: string }): string => `${c.scope}\u0000${c.ip}\u0000${c.username}`;

/**
 * A sign-in that passed the check and is being verified. Settle it exactly once: failed(),
 * succeeded() or abandon() (an error, so neither). Until then it counts as in flight.
 */
export class LoginAttempt {
  private settled = false;

  constructor(
    private readonly regulator: LoginRegulator,
    readonly ip: string,
    readonly username: string | null,
    readonly startedAt: number,
    readonly holds: readonly string[],
  ) {}

  /** Records the failure; returns the bans it caused. */
  failed(): Ban[] {
    if (this.settled) return [];
    try {
      return this.regulator.recordFailure(this.ip, this.username);
    } finally {
      this.settle();
    }
  }

  succeeded(): void {
    if (this.settled) return;
    try {
      if (this.username !== null) this.regulator.recordSuccess(this.ip, this.username);
    } finally {
      this.settle();
    }
  }

  abandon(): void {
    if (!this.settled) this.settle();
  }

  private settle(): void {
    this.settled = true;
    this.regulator.release(this);
  }
}

/** The purge's statements, each bounded by @limit rows found through an index (migration 0008). */
export const THROTTLE_SWEEP_SQL = {
  quietCounters: `SELECT rowid AS id, last_failure_at AS at FROM throttle_counters
    WHERE (last_failure_at, rowid) > (@afterAt, @afterId) AND last_failure_at <= @quietSince
    ORDER BY last_failure_at, rowid LIMIT @limit`,
  forgetCounters: `DELETE FROM throttle_counters WHERE rowid IN (SELECT value FROM json_each(@ids))
    AND (banned_until IS NULL OR banned_until <= @banForgotten)`,
  // A success leaves its counters at no failure (last_failure_at NULL).
  forgetReset: `DELETE FROM throttle_counters WHERE rowid IN (SELECT rowid FROM throttle_counters
    WHERE last_failure_at IS NULL AND (banned_until IS NULL OR banned_until <= @banForgotten) LIMIT @limit)`,
  purgeKnown: 'DELETE FROM throttle_known_ips WHERE rowid IN (SELECT rowid FROM throttle_known_ips WHERE last_success_at <= @before LIMIT @limit)',
} as const;

export class LoginRegulator {
  private readonly inflight = new Map<string, Set<LoginAttempt>>();
  private readonly sql: {
    get: Statement;
    bump: Statement;
    impose: Statement;
    known: Statement;
    distinct: Statement;
    reset: Statement;
    remember: Statement;
    active: Statement;
    byIp: Statement;
    byUser: Statement;
    deleteByIp: Statement;
    deleteByUser: Statement;
    quietCounters: Statement;
    forgetCounters: Statement;
    forgetReset: Statement;
    purgeKnown: Statement;
  };

  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
    private readonly audit: Audit,
    readonly settings: ThrottleSettings,
  ) {
    this.sql = {
      get: db.prepare('SELECT * FROM throttle_counters WHERE scope = ? AND ip = ? AND username = ?'),
      // A counter quiet for a whole window starts again from one.
      bump: db.prepare(`INSERT INTO throttle_counters (scope, ip, username, failures, last_failure_at) VALUES (@scope, @ip, @username, 1, @now)
        ON CONFLICT (scope, ip, username) DO UPDATE SET
          failures = CASE WHEN last_failure_at IS NOT NULL AND last_failure_at > @since THEN failures + 1 ELSE 1 END,
          last_failure_at = @now
        RETURNING *`),
      impose: db.prepare(`UPDATE throttle_counters SET failures = 0, banned_until = @until, ban_count = ban_count + 1, ban_cause = @cause
        WHERE scope = @scope AND ip = @ip AND username = @username`),
      known: db.prepare('SELECT 1 FROM throttle_known_ips WHERE username = ? AND ip = ? AND last_success_at > ?'),
      distinct: db.prepare(`SELECT count(*) FROM throttle_counters c
        WHERE c.scope = 'pair' AND c.ip = @ip AND c.last_failure_at > @since
          AND NOT EXISTS (SELECT 1 FROM throttle_known_ips k WHERE k.ip = c.ip AND k.username = c.username AND k.last_success_at > @knownSince)`)
        .pluck(),
      reset: db.prepare(`UPDATE throttle_counters SET failures = 0, last_failure_at = NULL
        WHERE (scope = 'user' AND ip = '' AND username = @username) OR (scope = 'pair' AND ip = @ip AND username = @username)`),
      remember: db.prepare(`INSERT INTO throttle_known_ips (username, ip, first_success_at, last_success_at) VALUES (?, ?, ?, ?)
        ON CONFLICT (username, ip) DO UPDATE SET last_success_at = excluded.last_success_at`),
      active: db.prepare('SELECT * FROM throttle_counters WHERE banned_until > ? ORDER BY banned_until DESC, scope, ip, username'),
      byIp: db.prepare("SELECT * FROM throttle_counters WHERE ip = ? AND scope IN ('ip', 'pair')"),
      byUser: db.prepare("SELECT * FROM throttle_counters WHERE username = ? AND scope IN ('user', 'pair')"),
      deleteByIp: db.prepare("DELETE FROM throttle_counters WHERE ip = ? AND scope IN ('ip', 'pair')"),
      deleteByUser: db.prepare("DELETE FROM throttle_counters WHERE username = ? AND scope IN ('user', 'pair')"),
      quietCounters: db.prepare(THROTTLE_SWEEP_SQL.quietCounters),
      forgetCounters: db.prepare(THROTTLE_SWEEP_SQL.forgetCounters),
      forgetReset: db.prepare(THROTTLE_SWEEP_SQL.forgetReset),
      purgeKnown: db.prepare(THROTTLE_SWEEP_SQL.purgeKnown),
    };
  }

  /**
   * Whether a sign-in from `ip` for `username` (normalized; null when malformed or
   * unsupported) may be checked now. Ask before any hashing. A refusal is audited here; an
   * allowed attempt must be settled (see LoginAttempt).
   */
  check(ip: string, username: string | null): Verdict {
    const now = this.clock.now();
    const key = ipKey(ip);
    const counters = this.applicable(key, username, now);
    let worst: { reason: ThrottleReason; until: number } | null = null;
    for (const counter of counters) {
      const refusal = this.refusal(counter, now);
      if (refusal && (!worst || refusal.until > worst.until)) worst = refusal;
    }
    if (worst) {
      const retryAfter = Math.max(1, Math.ceil((worst.until - now) / 1000));
      this.audit.loginThrottled({ ip, username, reason: worst.reason, retryAfter });
      return { allowed: false, reason: worst.reason, retryAfter, until: worst.until };
    }
    const attempt = new LoginAttempt(this, ip, username, now, counters.map(counterId));
    for (const id of attempt.holds) {
      let set = this.inflight.get(id);
      if (!set) this.inflight.set(id, (set = new Set()));
      set.add(attempt);
    }
    return { allowed: true, attempt };
  }

  /** Counts a failed sign-in; imposes (and audits) the bans it causes. */
  recordFailure(ip: string, username: string | null): Ban[] {
    const s = this.settings;
    const now = this.clock.now();
    const key = ipKey(ip);
    const since = now - s.window;
    return this.db.transaction(() => {
      const imposed: Ban[] = [];
      const ipRow = this.bump('ip', key, '', now, since);
      if (ipRow.failures >= s.max_failures_per_ip) imposed.push(this.impose(ipRow, 'failures', now));
      if (username !== null) {
        const userRow = this.bump('user', '', username, now, since);
        if (userRow.failures >= s.max_failures_per_user) imposed.push(this.impose(userRow, 'failures', now));
        const pairRow = this.bump('pair', key, username, now, since);
        if (this.isKnown(key, username, now) && pairRow.failures >= s.max_failures_known_ip) imposed.push(this.impose(pairRow, 'failures', now));
        const ipBanned = imposed.some((b) => b.scope === 'ip') || (ipRow.banned_until ?? 0) > now;
        if (!ipBanned) {
          const distinct = this.sql.distinct.get({ ip: key, since, knownSince: now - KNOWN_IP_RETENTION_MS }) as number;
          if (distinct >= s.max_usernames_per_ip) imposed.push(this.impose(ipRow, 'spraying', now));
        }
      }
      return imposed;
    })();
  }

  /** A correct password: clears the username and pair failures and remembers the address. */
  recordSuccess(ip: string, username: string): void {
    const now = this.clock.now();
    const key = ipKey(ip);
    this.db.transaction(() => {
      this.sql.reset.run({ ip: key, username });
      this.sql.remember.run(username, key, now, now);
    })();
  }

  /** Active bans and locks, the longest first. */
  listBans(): Ban[] {
    return (this.sql.active.all(this.clock.now()) as CounterRow[]).map(toBan);
  }

  /**
   * Removes the bans and failure counters of an address (its own and its address+username
   * pairs) or of a username (its own and its pairs). Throws RangeError for a target that
   * is neither an IP address nor a possible username.
   */
  lift(target: string, by: string): LiftResult {
    const parsed = parseLiftTarget(target);
    const now = this.clock.now();
    return this.db.transaction(() => {
      const rows = (parsed.kind === 'ip' ? this.sql.byIp.all(parsed.key) : this.sql.byUser.all(parsed.username)) as CounterRow[];
      const lifted = rows.filter((r) => (r.banned_until ?? 0) > now).map(toBan);
      const cleared = (parsed.kind === 'ip' ? this.sql.deleteByIp.run(parsed.key) : this.sql.deleteByUser.run(parsed.username)).changes;
      for (const ban of lifted) this.audit.banLifted({ ip: ban.ip, username: ban.username, scope: ban.scope, until: ban.until, by });
      return { target: parsed, lifted, cleared };
    })();
  }

  /**
   * Forgets quiet counters (no failure for a window, no ban remembered) and old known
   * addresses, a batch at a time with the event loop free in between; returns how many
   * rows went.
   */
  async purge(options: BatchOptions = {}): Promise<{ counters: number; knownIps: number }> {
    const now = this.clock.now();
    const banForgotten = now - this.settings.ban_max;
    let counters = 0;
    // Quiet counters in the order of their last failure, from a cursor: a counter kept for
    // its ban is passed once, not read again by every later batch.
    let after = { at: Number.MIN_SAFE_INTEGER, id: 0 };
    await inBatches((limit) => {
      const rows = this.sql.quietCounters.all({ afterAt: after.at, afterId: after.id, quietSince: now - this.settings.window, limit }) as Array<{ id: number; at: number }>;
      const last = rows.at(-1);
      if (last) after = { at: last.at, id: last.id };
      if (rows.length) counters += this.sql.forgetCounters.run({ ids: JSON.stringify(rows.map((r) => r.id)), banForgotten }).changes;
      return rows.length;
    }, options);
    counters += await inBatches((limit) => this.sql.forgetReset.run({ banForgotten, limit }).changes, options);
    const knownIps = await inBatches((limit) => this.sql.purgeKnown.run({ before: now - KNOWN_IP_RETENTION_MS, limit }).changes, options);
    return { counters, knownIps };
  }

  /** Called by LoginAttempt when it settles. */
  release(attempt: LoginAttempt): void {
    for (const id of attempt.holds) {
      const set = this.inflight.get(id);
      if (!set) continue;
      set.delete(attempt);
      if (set.size === 0) this.inflight.delete(id);
    }
  }

  /** The counters that decide for this address and username (rule 2 and 3). */
  private applicable(key: string, username: string | null, now: number): Counter[] {
    const s = this.settings;
    const counters: Counter[] = [{ scope: 'ip', ip: key, username: '', limit: s.max_failures_per_ip, locked: 'ip-banned' }];
    if (username !== null) {
      counters.push(
        this.isKnown(key, username, now)
          ? { scope: 'pair', ip: key, username, limit: s.max_failures_known_ip, locked: 'user-locked' }
          : { scope: 'user', ip: '', username, limit: s.max_failures_per_user, locked: 'user-locked' },
      );
    }
    return counters;
  }

  private refusal(counter: Counter, now: number): { reason: ThrottleReason; until: number } | null {
    const s = this.settings;
    const row = this.row(counter.scope, counter.ip, counter.username);
    if (row?.banned_until && row.banned_until > now) return { reason: counter.locked, until: row.banned_until };
    const failures = row && row.last_failure_at !== null && row.last_failure_at > now - s.window ? row.failures : 0;
    if (row && row.last_failure_at !== null && failures >= s.backoff_after) {
      const next = row.last_failure_at + this.backoffMs(failures);
      if (now < next) return { reason: 'backoff', until: next };
    }
    // Attempts being checked right now count as failures-to-be: without this, a burst of
    // parallel guesses would all pass before the first one is recorded.
    const held = this.heldBy(counterId(counter), now);
    if (held > 0 && failures + held >= Math.min(s.backoff_after, counter.limit)) return { reason: 'backoff', until: now + IN_FLIGHT_RETRY_MS };
    return null;
  }

  /** 1 s after `backoff_after` failures, then 2 s, 4 s …, at most half of the first ban. */
  private backoffMs(failures: number): number {
    const s = this.settings;
    return Math.min(1000 * 2 ** (failures - s.backoff_after), Math.floor(s.ban / 2));
  }

  private heldBy(id: string, now: number): number {
    const set = this.inflight.get(id);
    if (!set) return 0;
    let held = 0;
    for (const attempt of set) {
      if (attempt.startedAt > now - IN_FLIGHT_STALE_MS) held += 1;
      else set.delete(attempt);
    }
    return held;
  }

  private isKnown(key: string, username: string, now: number): boolean {
    return this.sql.known.get(username, key, now - KNOWN_IP_RETENTION_MS) !== undefined;
  }

  private row(scope: CounterScope, ip: string, username: string): CounterRow | undefined {
    return this.sql.get.get(scope, ip, username) as CounterRow | undefined;
  }

  private bump(scope: CounterScope, ip: string, username: string, now: number, since: number): CounterRow {
    return this.sql.bump.get({ scope, ip, username, now, since }) as CounterRow;
  }

  private impose(row: CounterRow, cause: BanCause, now: number): Ban {
    const s = this.settings;
    const durationMs = Math.min(s.ban * 2 ** row.ban_count, s.ban_max);
    const until = Math.max(now + durationMs, row.banned_until ?? 0);
    this.sql.impose.run({ until, cause, scope: row.scope, ip: row.ip, username: row.username });
    const ban = toBan({ ...row, failures: 0, banned_until: until, ban_count: row.ban_count + 1, ban_cause: cause });
    this.audit.banImposed({ ip: ban.ip, username: ban.username, scope: ban.scope, cause, until, durationMs, count: ban.count });
    return ban;
  }
}

function toBan(row: CounterRow): Ban {
  return {
    scope: row.scope,
    ip: row.ip === '' ? null : row.ip,
    username: row.username === '' ? null : row.username,
    until: row.banned_until ?? 0,
    count: row.ban_count,
    cause: row.ban_cause ?? 'failures',
  };
}

/** An IP address (or the "2001:db8::/64" key shown by `ban list`), else a username. */
export function parseLiftTarget(raw: string): LiftTarget {
  const target = raw.trim();
  if (isIP(target) !== 0) return { kind: 'ip', key: ipKey(target) };
  const [addr = '', bits, ...rest] = target.split('/');
  if (bits === '64' && rest.length === 0 && isIP(addr) === 6) return { kind: 'ip', key: ipKey(addr) };
  const name = normalizeUsername(target);
  if (!name.ok) throw new RangeError(`"${raw.slice(0, 80)}" is neither an IP address nor a username`);
  return { kind: 'user', username: name.username };
}
