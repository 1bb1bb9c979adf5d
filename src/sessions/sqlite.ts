// The sessions table on SQLite: one method per named operation, each running prepared
// statements. The rules that protect users are enforced here, in SQL or inside one
// transaction, so they hold across processes (the CLI, a second server): no resurrection
// of an ended or expired row, signed-in rows created only by a checked succession, touches
// that never revive an expired row, single-use values taken in one statement.

import type { Statement } from 'better-sqlite3';
import type { SessionEndReason } from '../audit/events.js';
import { durably, type Db } from '../db/connection.js';
import { SessionEndedError, type SessionRow } from './store.js';

/** An ended row: which session, and whose. */
export interface EndedRow {
  id_hash: string;
  user_id: number | null;
}

/** A row with its user's name (listings). */
export type ListedRow = SessionRow & { username: string | null };

/** A successor's row, and what the succession rests on (see `succeed`). */
export interface SuccessorRow {
  /** Hash of the predecessor's ID. */
  before: string;
  hash: string;
  userId: number;
  data: string;
  boundIp: string | null;
  userAgent: string | null;
  now: number;
  idleMs: number;
  absoluteMs: number;
  forwardHash: string;
  /** A sign-in: the epoch read with the credential. Absent for a renewal. */
  epoch?: number;
  consume?: boolean;
}

/**
 * The sweep's statements: each touches at most @limit rows, found through its own index
 * (migration 0008; a test checks every plan), so one batch costs milliseconds however many
 * rows are due.
 */
export const SWEEP_SQL = {
  expireIdle: `UPDATE sessions SET deleted_at = @now, delete_reason = 'expired'
    WHERE rowid IN (SELECT rowid FROM sessions WHERE deleted_at IS NULL AND idle_expires_at <= @now LIMIT @limit)
    RETURNING id_hash, user_id`,
  expireAbsolute: `UPDATE sessions SET deleted_at = @now, delete_reason = 'expired'
    WHERE rowid IN (SELECT rowid FROM sessions WHERE deleted_at IS NULL AND absolute_expires_at <= @now LIMIT @limit)
    RETURNING id_hash, user_id`,
  purgeEnded: 'DELETE FROM sessions WHERE rowid IN (SELECT rowid FROM sessions WHERE deleted_at < @cutoff LIMIT @limit)',
  // The IN list is the partial index's own condition, word for word (else SQLite cannot use it).
  purgeAnonymous: `DELETE FROM sessions WHERE rowid IN (SELECT rowid FROM sessions
    WHERE user_id IS NULL AND delete_reason IN ('regenerated', 'expired', 'cleared') AND deleted_at < @cutoff LIMIT @limit)`,
  countAnonymousLive: `SELECT count(*) FROM (SELECT 1 FROM sessions
    WHERE user_id IS NULL AND deleted_at IS NULL AND idle_expires_at > @now LIMIT @max)`,
} as const;

const LIVE = 'deleted_at IS NULL';
const UNEXPIRED = 'idle_expires_at > @now AND absolute_expires_at > @now';
const LISTED = 'SELECT s.*, u.username FROM sessions s LEFT JOIN users u ON u.id = s.user_id';

export class SqliteSessionEngine {
  private readonly sql: Record<
    | 'selectLive'
    | 'selectAny'
    | 'selectForward'
    | 'usernameOf'
    | 'upsertAnonymous'
    | 'updateSignedIn'
    | 'insertSignedIn'
    | 'endPredecessor'
    | 'epochOf'
    | 'userExists'
    | 'bumpEpoch'
    | 'restamp'
    | 'touch'
    | 'touchCoalesced'
    | 'softDelete'
    | 'softDeleteUser'
    | 'liveByPrefix'
    | 'liveOfUserByHandle'
    | 'listEnded'
    | 'listEndedOfUser'
    | 'countSignedIn'
    | 'takeTheftNotices'
    | 'takeValue'
    | 'expireIdle'
    | 'expireAbsolute'
    | 'purgeEnded'
    | 'purgeAnonymous'
    | 'countAnonymousLive'
    | 'countLive'
    | 'allLive'
    | 'clearLive',
    Statement
  >;

  constructor(private readonly db: Db) {
    const listEnded = (ofUser: boolean) => `${LISTED}
         WHERE (s.user_id IS NOT NULL OR s.delete_reason = 'user-deleted')
           ${ofUser ? 'AND s.user_id = @userId' : ''}
           AND (s.deleted_at IS NOT NULL OR s.idle_expires_at <= @now OR s.absolute_expires_at <= @now)
           AND s.delete_reason IS NOT 'regenerated'
         ORDER BY coalesce(s.deleted_at, min(s.idle_expires_at, s.absolute_expires_at)) DESC LIMIT @limit`;
    this.sql = {
      selectLive: db.prepare(`SELECT * FROM sessions WHERE id_hash = ? AND ${LIVE}`),
      selectAny: db.prepare('SELECT * FROM sessions WHERE id_hash = ?'),
      selectForward: db.prepare(`SELECT * FROM sessions WHERE forward_hash = ? AND ${LIVE}`),
      usernameOf: db.prepare('SELECT username FROM users WHERE id = ?').pluck(),
      upsertAnonymous: db.prepare(`
        INSERT INTO sessions (id_hash, user_id, data, bound_ip, user_agent, created_at, last_seen_at,
                              idle_timeout_ms, idle_expires_at, absolute_expires_at)
        VALUES (@hash, NULL, @data, NULL, NULL, @now, @now, @idleMs, @now + @idleMs, @now + @absoluteMs)
        ON CONFLICT (id_hash) DO UPDATE SET
          data = excluded.data,
          last_seen_at = excluded.last_seen_at,
          idle_expires_at = excluded.last_seen_at + sessions.idle_timeout_ms
        WHERE sessions.${LIVE}
          AND sessions.idle_expires_at > excluded.last_seen_at
          AND sessions.absolute_expires_at > excluded.last_seen_at
        RETURNING *`),
      updateSignedIn: db.prepare(`
        UPDATE sessions SET data = @data, last_seen_at = @now, idle_expires_at = @now + idle_timeout_ms
        WHERE id_hash = @hash AND ${LIVE} AND user_id = @userId AND ${UNEXPIRED}
        RETURNING *`),
      insertSignedIn: db.prepare(`
        INSERT INTO sessions (id_hash, user_id, data, bound_ip, user_agent, created_at, last_seen_at,
                              idle_timeout_ms, idle_expires_at, absolute_expires_at, auth_epoch, forward_hash)
        VALUES (@hash, @userId, @data, @boundIp, @userAgent, @now, @now, @idleMs, @now + @idleMs, @now + @absoluteMs, @epoch, @forwardHash)
        RETURNING *`),
      endPredecessor: db.prepare(`
        UPDATE sessions SET deleted_at = @now, delete_reason = 'regenerated'
        WHERE id_hash = @hash AND ${LIVE} AND ${UNEXPIRED}
        RETURNING user_id, auth_epoch`),
      epochOf: db.prepare('SELECT coalesce((SELECT epoch FROM session_epochs WHERE user_id = ?), 0)').pluck(),
      userExists: db.prepare('SELECT EXISTS (SELECT 1 FROM users WHERE id = ?)').pluck(),
      bumpEpoch: db.prepare(`
        INSERT INTO session_epochs (user_id, epoch) VALUES (@userId, 1)
        ON CONFLICT (user_id) DO UPDATE SET epoch = epoch + 1 RETURNING epoch`).pluck(),
      restamp: db.prepare(`UPDATE sessions SET auth_epoch = @epoch WHERE id_hash = @hash AND user_id = @userId AND ${LIVE}`),
      touch: db.prepare(`
        UPDATE sessions SET last_seen_at = @at, idle_expires_at = @at + idle_timeout_ms
        WHERE id_hash = @hash AND ${LIVE} AND last_seen_at < @at`),
      touchCoalesced: db.prepare(`
        UPDATE sessions SET last_seen_at = @at, idle_expires_at = @at + idle_timeout_ms
        WHERE id_hash = @hash AND ${LIVE} AND last_seen_at <= @at - @interval
          AND idle_expires_at > @at AND absolute_expires_at > @at`),
      softDelete: db.prepare(`
        UPDATE sessions SET deleted_at = @now, delete_reason = @reason, delete_detail = @detail
        WHERE id_hash = @hash AND ${LIVE} RETURNING id_hash, user_id`),
      softDeleteUser: db.prepare(`
        UPDATE sessions SET deleted_at = @now, delete_reason = @reason, delete_detail = CASE WHEN @by IS NULL THEN NULL ELSE json_object('by', @by) END
        WHERE user_id = @userId AND ${LIVE} AND id_hash IS NOT @except RETURNING id_hash`),
      liveByPrefix: db
        .prepare(
          `SELECT id_hash FROM sessions
         WHERE ${LIVE} AND ${UNEXPIRED}
           AND id_hash >= @low AND id_hash < @high LIMIT 2`,
        )
        .pluck(),
      liveOfUserByHandle: db
        .prepare(
          `SELECT id_hash FROM sessions
         WHERE user_id = @userId AND ${LIVE} AND ${UNEXPIRED}
           AND id_hash >= @low AND id_hash < @high LIMIT 1`,
        )
        .pluck(),
      listEnded: db.prepare(listEnded(false)),
      listEndedOfUser: db.prepare(listEnded(true)),
      countSignedIn: db.prepare(`SELECT count(*) FROM sessions WHERE user_id IS NOT NULL AND ${LIVE} AND ${UNEXPIRED}`).pluck(),
      takeTheftNotices: db.prepare(
        `UPDATE sessions SET delete_detail = json_set(delete_detail, '$.notified', json('true'))
         WHERE user_id = ? AND delete_reason = 'ip-mismatch' AND json_extract(delete_detail, '$.notified') = 0
         RETURNING deleted_at, json_extract(delete_detail, '$.bound_ip') AS bound_ip, json_extract(delete_detail, '$.seen_ip') AS seen_ip`,
      ),
      takeValue: db.prepare(`
        UPDATE sessions SET data = json_remove(data, @path)
        WHERE id_hash = @hash AND ${LIVE} AND json_type(data, @path) = 'text' AND json_extract(data, @path) = @expected
        RETURNING data`),
      expireIdle: db.prepare(SWEEP_SQL.expireIdle),
      expireAbsolute: db.prepare(SWEEP_SQL.expireAbsolute),
      purgeEnded: db.prepare(SWEEP_SQL.purgeEnded),
      purgeAnonymous: db.prepare(SWEEP_SQL.purgeAnonymous),
      countAnonymousLive: db.prepare(SWEEP_SQL.countAnonymousLive).pluck(),
      countLive: db.prepare(`SELECT count(*) FROM sessions WHERE ${LIVE} AND ${UNEXPIRED}`).pluck(),
      allLive: db.prepare(`SELECT id_hash, data FROM sessions WHERE ${LIVE} AND ${UNEXPIRED}`),
      clearLive: db.prepare(`UPDATE sessions SET deleted_at = @now, delete_reason = 'cleared' WHERE ${LIVE} RETURNING id_hash, user_id`),
    };
  }

  /**
   * Runs `work` in one transaction (a savepoint inside another). `durable`: its commit is
   * fsynced before this returns (see durably), for endings a power cut must not undo.
   */
  transaction<T>(work: () => T, options: { durable?: boolean } = {}): T {
    const run = () => this.db.transaction(work)();
    return options.durable ? durably(this.db, run) : run();
  }

  // ---- reading one session --------------------------------------------------------------

  /** The row of a session that has not been ended (it may have expired: the caller judges). */
  findLive(hash: string): SessionRow | undefined {
    return this.sql.selectLive.get(hash) as SessionRow | undefined;
  }

  /** The row, ended or not. */
  find(hash: string): SessionRow | undefined {
    return this.sql.selectAny.get(hash) as SessionRow | undefined;
  }

  /** The not-ended row behind a forward-auth cookie hash. */
  findLiveByForwardHash(forwardHash: string): SessionRow | undefined {
    return this.sql.selectForward.get(forwardHash) as SessionRow | undefined;
  }

  usernameOf(userId: number): string | null {
    return (this.sql.usernameOf.get(userId) as string | undefined) ?? null;
  }

  // ---- saving -----------------------------------------------------------------------------

  /**
   * Saves a pre-login session: inserts it, or updates a row that is still live and
   * unexpired. No resurrection: an update of an ended or expired row matches nothing and
   * returns undefined; that is how a late save is told from a new one. Signed-in rows are
   * never inserted here (see `succeed`).
   */
  saveAnonymous(row: { hash: string; data: string; now: number; idleMs: number; absoluteMs: number }): SessionRow | undefined {
    return this.sql.upsertAnonymous.get(row) as SessionRow | undefined;
  }

  /**
   * Saves a signed-in session over its own row only: live, unexpired and of the same user.
   * Anything else (an ended, expired, missing or other user's row) returns undefined.
   */
  saveSignedIn(row: { hash: string; userId: number; data: string; now: number }): SessionRow | undefined {
    return this.sql.updateSignedIn.get(row) as SessionRow | undefined;
  }

  /**
   * The one way a signed-in row comes to be. In one durable transaction: ends the
   * predecessor if it is live and unexpired (reason `regenerated`), checks what the
   * succession rests on, and inserts the successor under the user's current epoch;
   * otherwise nothing changes and SessionEndedError is thrown.
   * - A renewal (no `epoch`): the predecessor must have been live, signed in, of the same
   *   user and issued under the current epoch (no revoke-all since).
   * - A sign-in: `epoch` (read with the credential) must still be current (no credential
   *   change or revoke-all while it was checked); with `consume` the predecessor must have
   *   been live.
   * - The user must still exist (a deleted user's epoch reads 0 again: a sign-in checked
   *   before the deletion must find the user gone, not fail on the foreign key).
   */
  succeed(s: SuccessorRow): SessionRow {
    return this.transaction(
      () => {
        const current = this.epochOf(s.userId);
        const ended = this.sql.endPredecessor.get({ hash: s.before, now: s.now }) as { user_id: number | null; auth_epoch: number | null } | undefined;
        if (s.epoch === undefined) {
          // A renewal: it rests on the predecessor's authentication, which must still hold.
          if (!ended || ended.user_id === null) throw new SessionEndedError('predecessor-ended');
          if (ended.user_id !== s.userId) throw new SessionEndedError('user-mismatch');
          if (ended.auth_epoch !== current) throw new SessionEndedError('epoch-moved');
        } else {
          // A sign-in: it rests on a credential checked under `epoch`.
          if (!ended && s.consume) throw new SessionEndedError('predecessor-ended');
          if (s.epoch !== current) throw new SessionEndedError('epoch-moved');
        }
        if (this.sql.userExists.get(s.userId) !== 1) throw new SessionEndedError('user-gone');
        return this.sql.insertSignedIn.get({
          hash: s.hash,
          userId: s.userId,
          data: s.data,
          boundIp: s.boundIp,
          userAgent: s.userAgent,
          now: s.now,
          idleMs: s.idleMs,
          absoluteMs: s.absoluteMs,
          epoch: current,
          forwardHash: s.forwardHash,
        }) as SessionRow;
      },
      { durable: true },
    );
  }

  /** The user's session epoch now (0 before any revoke-all). */
  epochOf(userId: number): number {
    return this.sql.epochOf.get(userId) as number;
  }

  // ---- touches ----------------------------------------------------------------------------

  /** Writes a use held in memory: only to a live row, and only forward in time. */
  touch(hash: string, at: number): void {
    this.sql.touch.run({ hash, at });
  }

  /**
   * Records a use of a session not held in memory, coalesced in SQL: writes only to a live
   * row last written at least `intervalMs` ago, and never moves the expiry of a row that
   * has already expired (that would revive it).
   */
  touchCoalesced(hash: string, at: number, intervalMs: number): void {
    this.sql.touchCoalesced.run({ hash, at, interval: intervalMs });
  }

  // ---- ending -----------------------------------------------------------------------------

  /** Ends one session if it is not ended yet (an ended row keeps its first reason). */
  softDelete(end: { hash: string; reason: SessionEndReason; now: number; detail: string | null }): EndedRow | undefined {
    return this.sql.softDelete.get(end) as EndedRow | undefined;
  }

  /**
   * Ends all of a user's sessions but `except`, atomically with moving the user's epoch on,
   * so a sign-in or renewal in flight cannot issue a successor afterwards (see `succeed`).
   * The spared session moves to the new epoch with its user; it must still be live, or
   * nothing changes (SessionEndedError). `by` is kept with each ended row.
   */
  endAllForUser(end: { userId: number; reason: SessionEndReason; now: number; except: string | null; by: string | null }): Array<{ id_hash: string }> {
    return this.transaction(() => {
      const epoch = this.sql.bumpEpoch.get({ userId: end.userId }) as number;
      if (end.except !== null && this.sql.restamp.run({ epoch, hash: end.except, userId: end.userId }).changes === 0) {
        throw new SessionEndedError('predecessor-ended');
      }
      return this.sql.softDeleteUser.all(end) as Array<{ id_hash: string }>;
    });
  }

  /** Ends every live session (reason `cleared`). */
  clearLive(now: number): EndedRow[] {
    return this.sql.clearLive.all({ now }) as EndedRow[];
  }

  // ---- finding by handle --------------------------------------------------------------------

  /** Live, unexpired sessions whose hash starts with `prefix` (lowercase hex): at most two, to tell an ambiguous prefix. */
  liveHashesByPrefix(prefix: string, now: number): string[] {
    return this.sql.liveByPrefix.all({ now, low: prefix, high: `${prefix}g` }) as string[];
  }

  /** The user's own live, unexpired session named by `handle` (lowercase hex); another user's is not found. */
  liveHashOfUser(userId: number, handle: string, now: number): string | undefined {
    return this.sql.liveOfUserByHandle.get({ userId, now, low: handle, high: `${handle}g` }) as string | undefined;
  }

  // ---- listings -----------------------------------------------------------------------------

  /** Sessions newest first (live ones first), with their user's name. */
  list(filter: { userId?: number; includeEnded: boolean; includeAnonymous: boolean; limit: number; now: number }): ListedRow[] {
    const where: string[] = [];
    if (!filter.includeAnonymous) where.push("(s.user_id IS NOT NULL OR s.delete_reason = 'user-deleted')");
    const params: Record<string, unknown> = { now: filter.now, limit: filter.limit };
    if (filter.userId !== undefined) {
      where.push('s.user_id = @userId');
      params.userId = filter.userId;
    }
    if (!filter.includeEnded) where.push('s.deleted_at IS NULL AND s.idle_expires_at > @now AND s.absolute_expires_at > @now');
    return this.db
      .prepare(`${LISTED} ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY s.deleted_at IS NOT NULL, s.last_seen_at DESC LIMIT @limit`)
      .all(params) as ListedRow[];
  }

  /**
   * Ended signed-in sessions, most recently ended first: soft-deleted ones and expired ones
   * not marked yet. Sessions replaced by a new ID of the same sign-in (`regenerated`) are not listed.
   */
  listEnded(filter: { userId?: number; limit: number; now: number }): ListedRow[] {
    if (filter.userId === undefined) return this.sql.listEnded.all({ now: filter.now, limit: filter.limit }) as ListedRow[];
    return this.sql.listEndedOfUser.all({ now: filter.now, limit: filter.limit, userId: filter.userId }) as ListedRow[];
  }

  countSignedIn(now: number): number {
    return this.sql.countSignedIn.get({ now }) as number;
  }

  countLive(now: number): number {
    return this.sql.countLive.get({ now }) as number;
  }

  allLive(now: number): Array<{ id_hash: string; data: string }> {
    return this.sql.allLive.all({ now }) as Array<{ id_hash: string; data: string }>;
  }

  /** Live pre-login sessions, counted up to `max` (an index walk of at most `max` entries). */
  countAnonymousLive(now: number, max: number): number {
    return this.sql.countAnonymousLive.get({ now, max }) as number;
  }

  // ---- single use ---------------------------------------------------------------------------

  /**
   * Sessions of a user ended by theft detection not yet told to the user; marks them told in
   * the same statement, so each notice is taken once.
   */
  takeTheftNotices(userId: number): Array<{ deleted_at: number; bound_ip: string; seen_ip: string }> {
    return this.sql.takeTheftNotices.all(userId) as Array<{ deleted_at: number; bound_ip: string; seen_ip: string }>;
  }

  /**
   * Removes the string `expected` at JSON `path` from a live session's data, in one
   * statement and only while the row still holds it there: of racing takers exactly one
   * gets the new data, the others undefined, across processes too.
   */
  takeValue(hash: string, path: string, expected: string): string | undefined {
    return (this.sql.takeValue.get({ hash, path, expected }) as { data: string } | undefined)?.data;
  }

  // ---- sweeping (each a batch of at most `limit` rows) -----------------------------------------

  /** Marks ended (reason `expired`) live rows past their idle expiry. */
  expireIdle(now: number, limit: number): EndedRow[] {
    return this.sql.expireIdle.all({ now, limit }) as EndedRow[];
  }

  /** Marks ended (reason `expired`) live rows past their absolute expiry. */
  expireAbsolute(now: number, limit: number): EndedRow[] {
    return this.sql.expireAbsolute.all({ now, limit }) as EndedRow[];
  }

  /** Deletes rows ended before `cutoff`; returns how many. */
  purgeEnded(cutoff: number, limit: number): number {
    return this.sql.purgeEnded.run({ cutoff, limit }).changes;
  }

  /** Deletes pre-login rows ended (regenerated, expired, cleared) before `cutoff`. */
  purgeAnonymous(cutoff: number, limit: number): number {
    return this.sql.purgeAnonymous.run({ cutoff, limit }).changes;
  }
}
