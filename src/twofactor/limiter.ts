// The per-user limit on second-factor attempts (TOTP codes and recovery codes), persisted
// in SQLite so a restart does not reset it.
//
// Why not the LoginRegulator's counters: whoever reaches the second factor has just typed
// the right password, and a correct password clears the regulator's username counter and
// makes the address "known" (exempt from the username lock). Sharing those counters would
// let an attacker who has the password reset the count, or rotate addresses for a fresh
// allowance each time. This counter belongs to the user, whatever the address; only a
// correct second factor or a reset clears it. It uses the regulator's settings: after
// `max_failures_per_user` failures within `window` the step is locked for `ban`, doubled
// for each earlier lock, at most `ban_max`. Only someone who knows the password can fail
// here, so a stranger cannot lock a household member out this way.

import type { Statement } from 'better-sqlite3';
import type { Audit } from '../audit/events.js';
import type { Config } from '../config/schema.js';
import { durably, type Db } from '../db/connection.js';
import type { Clock } from '../lib/clock.js';

export type LimiterSettings = Pick<Config['throttle'], 'window' | 'max_failures_per_user' | 'ban' | 'ban_max'>;

export interface Who {
  id: number;
  username: string;
}

export interface Refusal {
  /** Seconds, at least 1 (Retry-After). */
  retryAfter: number;
  until: number;
}

/** The answer to one second-factor attempt. Callers show one generic message for 'invalid'. */
export type SecondFactorVerdict =
  | { ok: true; method: 'totp' }
  | { ok: true; method: 'recovery-code'; /** unused codes left */ remaining: number }
  | { ok: false; reason: 'invalid' }
  | ({ ok: false; reason: 'throttled' } & Refusal);

interface Row {
  failures: number;
  last_failure_at: number | null;
  locked_until: number | null;
  lock_count: number;
}

export class SecondFactorLimiter {
  private readonly sql: { get: Statement; bump: Statement; lock: Statement; clear: Statement };

  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
    private readonly audit: Audit,
    readonly settings: LimiterSettings,
  ) {
    this.sql = {
      get: db.prepare('SELECT * FROM second_factor_failures WHERE user_id = ?'),
      // A counter quiet for a whole window starts again from one; one quiet for a window
      // and the longest lock forgets its earlier locks too.
      bump: db.prepare(`INSERT INTO second_factor_failures (user_id, failures, last_failure_at) VALUES (@userId, 1, @now)
        ON CONFLICT (user_id) DO UPDATE SET
          failures = CASE WHEN last_failure_at > @since THEN failures + 1 ELSE 1 END,
          lock_count = CASE WHEN last_failure_at > @forgetSince THEN lock_count ELSE 0 END,
          last_failure_at = @now
        RETURNING *`),
      lock: db.prepare('UPDATE second_factor_failures SET failures = 0, locked_until = ?, lock_count = lock_count + 1 WHERE user_id = ?'),
      clear: db.prepare('DELETE FROM second_factor_failures WHERE user_id = ?'),
    };
  }

  /**
   * Runs one attempt: refused unchecked while the user is locked, else `check` decides and
   * the outcome is counted. All in one immediate transaction, so parallel attempts (from
   * this process or another) can neither slip past the limit nor use one code twice.
   * `durable`: fsync the commit (a used recovery code lost to a power cut would live again).
   */
  attempt(user: Who, ip: string | null, check: () => SecondFactorVerdict, options: { durable?: boolean } = {}): SecondFactorVerdict {
    const run = this.db.transaction((): SecondFactorVerdict => {
      const refused = this.refusal(user, ip);
      if (refused) return { ok: false, reason: 'throttled', ...refused };
      const verdict = check();
      if (verdict.ok) this.succeeded(user.id);
      else this.failed(user, ip);
      return verdict;
    });
    return options.durable ? durably(this.db, () => run.immediate()) : run.immediate();
  }

  /** Null when the user may try a code now; else the refusal, audited. Ask before verifying. */
  refusal(user: Who, ip: string | null): Refusal | null {
    const now = this.clock.now();
    const row = this.sql.get.get(user.id) as Row | undefined;
    if (!row?.locked_until || row.locked_until <= now) return null;
    const retryAfter = Math.max(1, Math.ceil((row.locked_until - now) / 1000));
    this.audit.secondFactorThrottled({ userId: user.id, username: user.username, ip, retryAfter });
    return { retryAfter, until: row.locked_until };
  }

  /** Counts a failed attempt; returns the end of the lock it imposed, if any (audited). */
  failed(user: Who, ip: string | null): number | null {
    const s = this.settings;
    const now = this.clock.now();
    const row = this.sql.bump.get({ userId: user.id, now, since: now - s.window, forgetSince: now - s.window - s.ban_max }) as Row;
    if (row.failures < s.max_failures_per_user) return null;
    const durationMs = Math.min(s.ban * 2 ** row.lock_count, s.ban_max);
    const until = now + durationMs;
    this.sql.lock.run(until, user.id);
    this.audit.secondFactorLocked({ userId: user.id, username: user.username, ip, until, durationMs, count: row.lock_count + 1 });
    return until;
  }

  /** A correct second factor: forgets the failures and earlier locks. */
  succeeded(userId: number): void {
    this.sql.clear.run(userId);
  }

  /** Lifts a lock and forgets the failures (a reset by an administrator). */
  clear(userId: number): void {
    this.sql.clear.run(userId);
  }

  /** For status pages: failures counted now and the end of a running lock. */
  state(userId: number): { failures: number; lockedUntil: number | null } {
    const now = this.clock.now();
    const row = this.sql.get.get(userId) as Row | undefined;
    const failures = row?.last_failure_at && row.last_failure_at > now - this.settings.window ? row.failures : 0;
    return { failures, lockedUntil: row?.locked_until && row.locked_until > now ? row.locked_until : null };
  }
}
