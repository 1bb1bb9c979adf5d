// Noticing writes by other processes (the CLI) to the database, so in-memory caches (sessions,
// users) never serve what was changed elsewhere. SQLite's data_version changes only when
// another connection commits; it is polled at most once per event-loop turn, which is once
// per request on the forward-auth path however many caches ask.

import type { Statement } from 'better-sqlite3';
import type { Db } from './connection.js';

export class ExternalChanges {
  private readonly version: Statement;
  private last: number;
  private polledThisTurn = false;
  private readonly listeners: Array<() => void> = [];

  constructor(db: Db) {
    this.version = db.prepare('PRAGMA data_version').pluck();
    this.last = this.version.get() as number;
  }

  /** `fn` runs (synchronously, inside poll) whenever another process has committed. */
  subscribe(fn: () => void): void {
    this.listeners.push(fn);
  }

  poll(): void {
    if (this.polledThisTurn) return;
    this.polledThisTurn = true;
    queueMicrotask(() => {
      this.polledThisTurn = false;
    });
    const current = this.version.get() as number;
    if (current === this.last) return;
    this.last = current;
    for (const fn of this.listeners) fn();
  }
}
