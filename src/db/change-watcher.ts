// Noticing writes by other processes (the CLI) to the database, so in-memory caches
// (sessions, users) never serve what was changed elsewhere. SQLite's data_version changes
// only when another connection commits. Reading it costs about as much as the rest of a
// forward-auth check, so under load it is read at most once per `intervalMs` (default
// 20 ms): a change made by the CLI reaches a busy server within that time, and an idle
// server (no read in the last interval) sees it on the very next request.

import type { Statement } from 'better-sqlite3';
import type { Db } from './connection.js';

export const DEFAULT_CHANGE_POLL_MS = 20;

export class ExternalChanges {
  private readonly version: Statement;
  private last: number;
  private nextPollAt = 0;
  private readonly listeners: Array<() => void> = [];

  constructor(
    db: Db,
    private readonly intervalMs = DEFAULT_CHANGE_POLL_MS,
  ) {
    this.version = db.prepare('PRAGMA data_version').pluck();
    this.last = this.version.get() as number;
  }

  /** `fn` runs (synchronously, inside poll) whenever another process has committed. */
  subscribe(fn: () => void): void {
    this.listeners.push(fn);
  }

  poll(): void {
    // performance.now(): monotonic, and independent of the Clock that tests move by hand.
    const now = performance.now();
    if (now < this.nextPollAt) return;
    this.nextPollAt = now + this.intervalMs;
    const current = this.version.get() as number;
    if (current === this.last) return;
    this.last = current;
    for (const fn of this.listeners) fn();
  }
}
