// Reading the audit log: filtered, keyset-paged listings (newest first), CSV export, a
// user's own events, anonymising a deleted user's entries, and the retention purge.

import { stringify } from 'csv-stringify/sync';
import { inBatches, type BatchOptions } from '../db/batches.js';
import type { Db } from '../db/connection.js';

/** An audit log entry as read back. */
export interface AuditEntry {
  id: number;
  /** The (first) event's time. */
  at: number;
  event: string;
  userId: number | null;
  username: string | null;
  ip: string | null;
  details: Record<string, unknown>;
  /** How many events this row stands for (more than 1 only for coalesced refusals). */
  count: number;
  /** The last of them (equal to `at` for a single event). */
  lastAt: number;
}

export interface AuditFilter {
  event?: string;
  /** A normalized username; matches entries about that user (by id while they exist, else by name). */
  username?: string;
  /** With `username` too: entries with this id, or without an id but with that name. */
  userId?: number;
  ip?: string;
  /** Epoch ms, inclusive. */
  from?: number;
  /** Epoch ms, exclusive. */
  to?: number;
}

export interface AuditPage {
  entries: AuditEntry[];
  /** Pass as `before` to get the next (older) page; null on the last page. */
  next: number | null;
}

export const AUDIT_PAGE_MAX = 500;
export const AUDIT_EXPORT_MAX = 100_000;

interface AuditRow {
  id: number;
  at: number;
  event: string;
  user_id: number | null;
  username: string | null;
  ip: string | null;
  details: string;
  count: number;
  last_at: number | null;
}

const toEntry = (r: AuditRow): AuditEntry => ({
  id: r.id,
  at: r.at,
  event: r.event,
  userId: r.user_id,
  username: r.username,
  ip: r.ip,
  details: JSON.parse(r.details) as Record<string, unknown>,
  count: r.count,
  lastAt: r.last_at ?? r.at,
});

/** The retention purge's statement: at most @limit entries, found through audit_by_time. */
export const PURGE_AUDIT_SQL = 'DELETE FROM audit_log WHERE id IN (SELECT id FROM audit_log WHERE at < @cutoff LIMIT @limit)';

export class AuditLog {
  constructor(private readonly db: Db) {}

  private where(filter: AuditFilter, before: number | undefined): { sql: string; params: Record<string, unknown> } {
    const clauses: string[] = [];
    const params: Record<string, unknown> = {};
    if (filter.event !== undefined) {
      clauses.push('event = @event');
      params.event = filter.event;
    }
    if (filter.userId !== undefined && filter.username !== undefined) {
      // Both: an existing user's entries by id, plus failed sign-ins that only typed the name.
      clauses.push('(user_id = @userId OR (user_id IS NULL AND username = @username))');
      params.userId = filter.userId;
      params.username = filter.username;
    } else if (filter.userId !== undefined) {
      clauses.push('user_id = @userId');
      params.userId = filter.userId;
    } else if (filter.username !== undefined) {
      clauses.push('username = @username');
      params.username = filter.username;
    }
    if (filter.ip !== undefined) {
      clauses.push('ip = @ip');
      params.ip = filter.ip;
    }
    if (filter.from !== undefined) {
      clauses.push('at >= @from');
      params.from = filter.from;
    }
    if (filter.to !== undefined) {
      clauses.push('at < @to');
      params.to = filter.to;
    }
    if (before !== undefined) {
      clauses.push('id < @before');
      params.before = before;
    }
    return { sql: clauses.length ? `WHERE ${clauses.join(' AND ')}` : '', params };
  }

  /** One page, newest first; `before` is the `next` of the previous page. */
  page(filter: AuditFilter, options: { limit: number; before?: number }): AuditPage {
    const limit = Math.max(1, Math.min(AUDIT_PAGE_MAX, Math.floor(options.limit)));
    const { sql, params } = this.where(filter, options.before);
    const rows = this.db.prepare(`SELECT * FROM audit_log ${sql} ORDER BY id DESC LIMIT @limit`).all({ ...params, limit: limit + 1 }) as AuditRow[];
    const more = rows.length > limit;
    const entries = rows.slice(0, limit).map(toEntry);
    return { entries, next: more ? (entries.at(-1)?.id ?? null) : null };
  }

  /** The distinct event names present, for the filter's choices. */
  eventNames(): string[] {
    return this.db.prepare('SELECT DISTINCT event FROM audit_log ORDER BY event').pluck().all() as string[];
  }

  /** Everything matching, newest first, as CSV (at most AUDIT_EXPORT_MAX rows). */
  csv(filter: AuditFilter): string {
    const { sql, params } = this.where(filter, undefined);
    const rows = this.db.prepare(`SELECT * FROM audit_log ${sql} ORDER BY id DESC LIMIT @limit`).all({ ...params, limit: AUDIT_EXPORT_MAX }) as AuditRow[];
    return stringify(
      rows.map((r) =>
        [r.id, new Date(r.at).toISOString(), r.event, r.user_id ?? '', r.username ?? '', r.ip ?? '', r.details, r.count, new Date(r.last_at ?? r.at).toISOString()].map(
          spreadsheetSafe,
        ),
      ),
      { header: true, columns: ['id', 'time', 'event', 'user_id', 'username', 'ip', 'details', 'count', 'last_time'] },
    );
  }

  /** Deletes entries older than `cutoff` (epoch ms), in batches; returns how many went. */
  purgeBefore(cutoff: number, options: BatchOptions = {}): Promise<number> {
    const purge = this.db.prepare(PURGE_AUDIT_SQL);
    return inBatches((limit) => purge.run({ cutoff, limit }).changes, options);
  }

  /** Entries about one user (for their data export), newest first. */
  aboutUser(userId: number, limit = 10_000): AuditEntry[] {
    return (this.db.prepare('SELECT * FROM audit_log WHERE user_id = ? ORDER BY id DESC LIMIT ?').all(userId, limit) as AuditRow[]).map(toEntry);
  }

  /**
   * After an account is deleted its entries keep only the (never reused) numeric id: the
   * username goes, also from failed sign-ins that typed it.
   */
  anonymize(userId: number, username: string): number {
    return this.db.prepare('UPDATE audit_log SET username = NULL WHERE user_id = ? OR (user_id IS NULL AND username = ?)').run(userId, username).changes;
  }
}

/**
 * Usernames and details are attacker-influenced: a cell starting with = + - @ (or a tab
 * or CR) would run as a formula in a spreadsheet (OWASP CSV injection). Prefix a quote.
 */
function spreadsheetSafe(value: string | number): string | number {
  if (typeof value === 'number') return value;
  return /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
}
