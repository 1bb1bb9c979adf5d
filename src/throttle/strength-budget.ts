// The password strength budget: estimates per requester (a signed-in user, or the setup
// page's visitor by address) a minute, on the rate limit's SQLite store. Every estimate a
// request causes is charged to it, whichever path causes it: the meter, a password form or
// the API, an administrator creating a user or resetting a password.

import type { Db } from '../db/connection.js';
import type { Requester } from '../passwords/policy.js';
import type { Clock } from '../lib/clock.js';
import { AppError } from '../lib/errors.js';
import { SqliteRateLimitStore } from './rate-limit-store.js';

/**
 * Estimates per requester a minute. Each costs the estimator's one worker up to hundreds
 * of milliseconds, far more than a page. The meter asks once a pause in typing; 30 a
 * minute leave room for a long passphrase typed slowly, and a few submits besides.
 */
export const STRENGTH_CHECKS_PER_MINUTE = 30;

export class StrengthBudget {
  private readonly store: SqliteRateLimitStore;

  constructor(
    db: Db,
    private readonly clock: Clock,
    readonly limit = STRENGTH_CHECKS_PER_MINUTE,
    readonly windowMs = 60_000,
  ) {
    // The meter's budget has always lived under this prefix; the rate limit purge clears it.
    this.store = new SqliteRateLimitStore(db, clock, { prefix: 'rl-strength:' });
    this.store.init({ windowMs });
  }

  /** The requester `key` ("user:<id>", "ip:<address>"), charged to this budget for each estimate. */
  requester(key: string): Requester {
    return { key, charge: () => this.spend(key) };
  }

  /** Counts one estimate for `key`; throws 429 (with Retry-After) once the minute's budget is spent. */
  spend(key: string): void {
    const { totalHits, resetTime } = this.store.increment(key);
    if (totalHits <= this.limit) return;
    const now = this.clock.now();
    const wait = Math.max(1, Math.ceil(((resetTime?.getTime() ?? now + this.windowMs) - now) / 1000));
    throw new AppError('rate-limited', 429, `Too many password checks. Wait ${wait} seconds and try again.`, { retryAfter: wait });
  }
}
