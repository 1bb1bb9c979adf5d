// express-rate-limit's Store interface on SQLite: one fixed window per key, kept in the
// rate_limit_hits table, so the global rate limit survives a restart and is shared with
// any other gatehouse process on the same database.

import type { Statement } from 'better-sqlite3';
import type { ClientRateLimitInfo, IncrementResponse, Options, Store } from 'express-rate-limit';
import { inBatches, type BatchOptions } from '../db/batches.js';
import type { Db } from '../db/connection.js';
import type { Clock } from '../lib/clock.js';

interface HitRow {
  hits: number;
  reset_at: number;
}

export class SqliteRateLimitStore implements Store {
  /** Keys live in the database, so two limiters with this class do affect each other. */
  readonly localKeys = false;
  /** Prepended to every key; give each limiter its own (express-rate-limit checks it). */
  readonly prefix: string;
  private windowMs = 60_000;
  private readonly sql: { get: Statement; increment: Statement; decrement: Statement; reset: Statement; resetAll: Statement };

  constructor(
    db: Db,
    private readonly clock: Clock,
    options: { prefix?: string } = {},
  ) {
    this.prefix = options.prefix ?? 'rl:';
    this.sql = {
      get: db.prepare('SELECT hits, reset_at FROM rate_limit_hits WHERE key = ? AND reset_at > ?'),
      // One statement, so concurrent increments cannot lose a hit; an expired window restarts at 1.
      increment: db.prepare(`INSERT INTO rate_limit_hits (key, hits, reset_at) VALUES (@key, 1, @resetAt)
        ON CONFLICT (key) DO UPDATE SET
          hits = CASE WHEN reset_at <= @now THEN 1 ELSE hits + 1 END,
          reset_at = CASE WHEN reset_at <= @now THEN excluded.reset_at ELSE reset_at END
        RETURNING hits, reset_at`),
      decrement: db.prepare('UPDATE rate_limit_hits SET hits = hits - 1 WHERE key = ? AND hits > 0 AND reset_at > ?'),
      reset: db.prepare('DELETE FROM rate_limit_hits WHERE key = ?'),
      resetAll: db.prepare('DELETE FROM rate_limit_hits WHERE substr(key, 1, length(?)) = ?'),
    };
  }

  init(options: Pick<Options, 'windowMs'>): void {
    this.windowMs = options.windowMs;
  }

  get(key: string): ClientRateLimitInfo | undefined {
    const row = this.sql.get.get(this.prefix + key, this.clock.now()) as HitRow | undefined;
    return row ? { totalHits: row.hits, resetTime: new Date(row.reset_at) } : undefined;
  }

  increment(key: string): IncrementResponse {
    const now = this.clock.now();
    const row = this.sql.increment.get({ key: this.prefix + key, now, resetAt: now + this.windowMs }) as HitRow;
    return { totalHits: row.hits, resetTime: new Date(row.reset_at) };
  }

  decrement(key: string): void {
    this.sql.decrement.run(this.prefix + key, this.clock.now());
  }

  resetKey(key: string): void {
    this.sql.reset.run(this.prefix + key);
  }

  resetAll(): void {
    this.sql.resetAll.run(this.prefix, this.prefix);
  }
}

/** The purge's statement: at most @limit ended windows, found through rate_limit_by_reset. */
export const PURGE_RATE_LIMIT_SQL = 'DELETE FROM rate_limit_hits WHERE rowid IN (SELECT rowid FROM rate_limit_hits WHERE reset_at <= @now LIMIT @limit)';

/** Deletes windows that have ended (for every prefix), in batches; returns how many. */
export async function purgeRateLimitHits(db: Db, now: number, options: BatchOptions = {}): Promise<number> {
  const purge = db.prepare(PURGE_RATE_LIMIT_SQL);
  return inBatches((limit) => purge.run({ now, limit }).changes, options);
}
