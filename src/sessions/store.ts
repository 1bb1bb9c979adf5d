// Our express-session Store over SQLite: hashed IDs, soft delete with a reason, no
// resurrection, coalesced touches, a bounded write-through cache, expiry from the row.

import session, { type SessionData } from 'express-session';
import type { Statement } from 'better-sqlite3';
import { LRUCache } from 'lru-cache';
import type { Audit, SessionEndReason } from '../audit/events.js';
import { inBatches, type BatchOptions } from '../db/batches.js';
import { durably, type Db } from '../db/connection.js';
import type { Clock } from '../lib/clock.js';
import { ExternalChanges } from '../db/change-watcher.js';
import { sha256Hex } from '../lib/crypto.js';
import { ANONYMOUS_RETENTION_MS, lifetimesFor, type SessionPolicy } from './policy.js';
import { HANDLE_LENGTH, type SessionInfo } from './types.js';

/** A row of the sessions table, as stored. */
export interface SessionRow {
  id_hash: string;
  user_id: number | null;
  data: string;
  bound_ip: string | null;
  user_agent: string | null;
  created_at: number;
  last_seen_at: number;
  idle_timeout_ms: number;
  idle_expires_at: number;
  absolute_expires_at: number;
  deleted_at: number | null;
  delete_reason: string | null;
  /** JSON: why in detail (ip-mismatch addresses; `by`, who ended it on purpose). */
  delete_detail?: string | null;
  auth_epoch: number | null;
  forward_hash: string | null;
}

/** A live session held in memory. `lastSeenAt` may be ahead of the row (touch not yet written). */
export interface LiveSession {
  hash: string;
  userId: number | null;
  data: string;
  boundIp: string | null;
  createdAt: number;
  lastSeenAt: number;
  persistedLastSeenAt: number;
  idleTimeoutMs: number;
  absoluteExpiresAt: number;
  /** SHA-256 of the session's forward-auth cookie (null for pre-login sessions). */
  forwardHash: string | null;
}

/** What a new signed-in session ID is issued for (see `succeed`). */
export interface Succession {
  /** The raw ID the request holds now (signed in, pending a second factor, or pre-login). */
  predecessor: string;
  successor: string;
  userId: number;
  data: SessionData;
  /** SHA-256 of the successor's forward-auth cookie. */
  forwardHash: string;
  /**
   * A sign-in (a credential checked now): the user's session epoch read together with the
   * credential, before it was checked. Absent for a renewal, which rests on the signed-in
   * predecessor instead (it must be live, of this user, and of the current epoch).
   */
  epoch?: number;
  /** A sign-in that uses up the predecessor's pending state: the predecessor must be live. */
  consume?: boolean;
}

/** A successor was refused: the session or the authentication it rests on has ended. */
export class SessionEndedError extends Error {
  constructor(readonly why: 'predecessor-ended' | 'epoch-moved' | 'user-mismatch' | 'user-gone') {
    super(`no new session ID: ${why}`);
    this.name = 'SessionEndedError';
  }
}

export const hashSessionId = (sid: string): string => sha256Hex(sid);
export const handleOf = (hash: string): string => hash.slice(0, HANDLE_LENGTH);

const USER_AGENT_MAX = 256;

function toLive(row: SessionRow): LiveSession {
  return {
    hash: row.id_hash,
    userId: row.user_id,
    data: row.data,
    boundIp: row.bound_ip,
    createdAt: row.created_at,
    lastSeenAt: row.last_seen_at,
    persistedLastSeenAt: row.last_seen_at,
    idleTimeoutMs: row.idle_timeout_ms,
    absoluteExpiresAt: row.absolute_expires_at,
    forwardHash: row.forward_hash,
  };
}

export function expiresAt(s: Pick<LiveSession, 'lastSeenAt' | 'idleTimeoutMs' | 'absoluteExpiresAt'>): number {
  return Math.min(s.lastSeenAt + s.idleTimeoutMs, s.absoluteExpiresAt);
}

/** Callback-style Store methods delegate to these synchronous ones and report throws. */
function settle<T>(callback: ((err: unknown, value?: T) => void) | undefined, work: () => T): void {
  let value: T;
  try {
    value = work();
  } catch (err) {
    callback?.(err);
    return;
  }
  callback?.(null, value);
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

export class SqliteSessionStore extends session.Store {
  private readonly cache: LRUCache<string, LiveSession> | null;
  private readonly pendingTouches = new Set<string>();
  /** Forward-auth cookie hash → session ID hash, for warm forward-auth checks. */
  private readonly forwardIds: LRUCache<string, string>;
  private readonly sql: Record<
    | 'selectLive'
    | 'selectAny'
    | 'selectForward'
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

  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
    private readonly policy: SessionPolicy,
    private readonly audit: Pick<Audit, 'resurrectionBlocked' | 'sessionRevoked'>,
    private readonly changes: ExternalChanges = new ExternalChanges(db),
  ) {
    super();
    changes.subscribe(() => this.dropCache());
    this.cache =
      policy.cacheSize > 0
        ? new LRUCache<string, LiveSession>({
            max: policy.cacheSize,
            // A session pushed out of the cache must not lose its newest touch.
            dispose: (entry, _key, reason) => {
              if (reason === 'evict' && this.pendingTouches.has(entry.hash)) this.writeTouch(entry);
            },
          })
        : null;
    this.forwardIds = new LRUCache<string, string>({ max: Math.max(1, policy.cacheSize) });
    const live = 'deleted_at IS NULL';
    this.sql = {
      selectLive: db.prepare(`SELECT * FROM sessions WHERE id_hash = ? AND ${live}`),
      selectAny: db.prepare('SELECT * FROM sessions WHERE id_hash = ?'),
      selectForward: db.prepare(`SELECT * FROM sessions WHERE forward_hash = ? AND ${live}`),
      // A pre-login session: insert, or update a row that is still live and unexpired. An
      // update of a dead row matches nothing and returns no row: that is how a late save is
      // told from a new one. Signed-in rows are never inserted here (see insertSignedIn).
      upsertAnonymous: db.prepare(`
        INSERT INTO sessions (id_hash, user_id, data, bound_ip, user_agent, created_at, last_seen_at,
                              idle_timeout_ms, idle_expires_at, absolute_expires_at)
        VALUES (@hash, NULL, @data, NULL, NULL, @now, @now, @idleMs, @now + @idleMs, @now + @absoluteMs)
        ON CONFLICT (id_hash) DO UPDATE SET
          data = excluded.data,
          last_seen_at = excluded.last_seen_at,
          idle_expires_at = excluded.last_seen_at + sessions.idle_timeout_ms
        WHERE sessions.${live}
          AND sessions.idle_expires_at > excluded.last_seen_at
          AND sessions.absolute_expires_at > excluded.last_seen_at
        RETURNING *`),
      // A signed-in session saves over its own live, unexpired row of the same user only.
      updateSignedIn: db.prepare(`
        UPDATE sessions SET data = @data, last_seen_at = @now, idle_expires_at = @now + idle_timeout_ms
        WHERE id_hash = @hash AND ${live} AND user_id = @userId
          AND idle_expires_at > @now AND absolute_expires_at > @now
        RETURNING *`),
      // The only way a signed-in row comes to be: inside succeed()'s transaction.
      insertSignedIn: db.prepare(`
        INSERT INTO sessions (id_hash, user_id, data, bound_ip, user_agent, created_at, last_seen_at,
                              idle_timeout_ms, idle_expires_at, absolute_expires_at, auth_epoch, forward_hash)
        VALUES (@hash, @userId, @data, @boundIp, @userAgent, @now, @now, @idleMs, @now + @idleMs, @now + @absoluteMs, @epoch, @forwardHash)
        RETURNING *`),
      endPredecessor: db.prepare(`
        UPDATE sessions SET deleted_at = @now, delete_reason = 'regenerated'
        WHERE id_hash = @hash AND ${live} AND idle_expires_at > @now AND absolute_expires_at > @now
        RETURNING user_id, auth_epoch`),
      epochOf: db.prepare('SELECT coalesce((SELECT epoch FROM session_epochs WHERE user_id = ?), 0)').pluck(),
      // A deleted user's epoch row goes with them (reading 0 again): a sign-in checked
      // before the deletion must find the user gone, not fail on the foreign key.
      userExists: db.prepare('SELECT EXISTS (SELECT 1 FROM users WHERE id = ?)').pluck(),
      bumpEpoch: db.prepare(`
        INSERT INTO session_epochs (user_id, epoch) VALUES (@userId, 1)
        ON CONFLICT (user_id) DO UPDATE SET epoch = epoch + 1 RETURNING epoch`).pluck(),
      // The session a revoke-all spares moves to the new epoch with its user.
      restamp: db.prepare(`UPDATE sessions SET auth_epoch = @epoch WHERE id_hash = @hash AND user_id = @userId AND ${live}`),
      touch: db.prepare(`
        UPDATE sessions SET last_seen_at = @at, idle_expires_at = @at + idle_timeout_ms
        WHERE id_hash = @hash AND ${live} AND last_seen_at < @at`),
      // Never moves the expiry of a row that has already expired: that would revive it.
      touchCoalesced: db.prepare(`
        UPDATE sessions SET last_seen_at = @at, idle_expires_at = @at + idle_timeout_ms
        WHERE id_hash = @hash AND ${live} AND last_seen_at <= @at - @interval
          AND idle_expires_at > @at AND absolute_expires_at > @at`),
      softDelete: db.prepare(`
        UPDATE sessions SET deleted_at = @now, delete_reason = @reason, delete_detail = @detail
        WHERE id_hash = @hash AND ${live} RETURNING id_hash, user_id`),
      softDeleteUser: db.prepare(`
        UPDATE sessions SET deleted_at = @now, delete_reason = @reason, delete_detail = CASE WHEN @by IS NULL THEN NULL ELSE json_object('by', @by) END
        WHERE user_id = @userId AND ${live} AND id_hash IS NOT @except RETURNING id_hash`),
      expireIdle: db.prepare(SWEEP_SQL.expireIdle),
      expireAbsolute: db.prepare(SWEEP_SQL.expireAbsolute),
      purgeEnded: db.prepare(SWEEP_SQL.purgeEnded),
      purgeAnonymous: db.prepare(SWEEP_SQL.purgeAnonymous),
      countAnonymousLive: db.prepare(SWEEP_SQL.countAnonymousLive).pluck(),
      countLive: db.prepare(`SELECT count(*) FROM sessions WHERE ${live} AND idle_expires_at > @now AND absolute_expires_at > @now`).pluck(),
      allLive: db.prepare(`SELECT id_hash, data FROM sessions WHERE ${live} AND idle_expires_at > @now AND absolute_expires_at > @now`),
      clearLive: db.prepare(`UPDATE sessions SET deleted_at = @now, delete_reason = 'cleared' WHERE ${live} RETURNING id_hash, user_id`),
    };
  }

  // ---- express-session Store API -------------------------------------------------------

  override get(sid: string, callback: (err: unknown, session?: SessionData | null) => void): void {
    settle(callback, () => {
      const live = this.lookup(sid);
      return live ? (JSON.parse(live.data) as SessionData) : null;
    });
  }

  override set(sid: string, sess: SessionData, callback?: (err?: unknown) => void): void {
    settle(callback, () => {
      this.save(sid, sess);
    });
  }

  /** express-session calls this from `destroy()` and `regenerate()`; named endings use `revoke`. */
  override destroy(sid: string, callback?: (err?: unknown) => void): void {
    settle(callback, () => {
      this.endByHash(hashSessionId(sid), 'regenerated');
    });
  }

  override touch(sid: string, _sess: SessionData, callback?: (err?: unknown) => void): void {
    settle(callback, () => {
      this.recordUse(sid);
    });
  }

  /** Live sessions keyed by their hash: the raw IDs are not stored anywhere, by design. */
  override all(callback: (err: unknown, obj?: { [hash: string]: SessionData } | null) => void): void {
    settle(callback, () => {
      // Pending touches first: a session kept alive only in memory is still live.
      this.flushTouches();
      const rows = this.sql.allLive.all({ now: this.clock.now() }) as Array<{ id_hash: string; data: string }>;
      return Object.fromEntries(rows.map((r) => [r.id_hash, JSON.parse(r.data) as SessionData]));
    });
  }

  override length(callback: (err: unknown, length?: number) => void): void {
    settle(callback, () => {
      this.flushTouches();
      return this.sql.countLive.get({ now: this.clock.now() }) as number;
    });
  }

  /** Ends every live session (soft delete, reason `cleared`). */
  override clear(callback?: (err?: unknown) => void): void {
    settle(callback, () => {
      const rows = this.sql.clearLive.all({ now: this.clock.now() }) as Array<{ id_hash: string; user_id: number | null }>;
      for (const r of rows) this.forget(r.id_hash);
      this.ended('cleared', rows.filter((r) => r.user_id !== null).length);
    });
  }

  // ---- domain operations -------------------------------------------------------------

  /** The live, unexpired session for a raw ID, from the cache when warm; null otherwise. */
  lookup(sid: string): LiveSession | null {
    return this.lookupHash(hashSessionId(sid));
  }

  lookupHash(hash: string): LiveSession | null {
    this.changes.poll();
    const now = this.clock.now();
    let live = this.cache?.get(hash) ?? null;
    if (!live) {
      const row = this.sql.selectLive.get(hash) as SessionRow | undefined;
      if (!row) return null;
      live = toLive(row);
      // Only signed-in sessions are cached: a flood of login-page visitors must not push
      // the household's sessions out.
      if (live.userId !== null) this.cache?.set(hash, live);
    }
    if (expiresAt(live) <= now) {
      this.endByHash(hash, 'expired');
      return null;
    }
    return live;
  }

  /** Records a use: moves the idle expiry in memory now, in the row at most once per interval. */
  recordUse(sid: string): void {
    this.recordUseHash(hashSessionId(sid));
  }

  recordUseHash(hash: string): void {
    const now = this.clock.now();
    const live = this.cache?.get(hash);
    if (!live) {
      // Not cached: SQL coalesces, writing only to a live row last written an interval ago.
      this.sql.touchCoalesced.run({ hash, at: now, interval: this.policy.touchIntervalMs });
      return;
    }
    if (expiresAt(live) <= now) return;
    live.lastSeenAt = Math.max(live.lastSeenAt, now);
    if (now - live.persistedLastSeenAt >= this.policy.touchIntervalMs) this.writeTouch(live);
    else this.pendingTouches.add(hash);
  }

  /** Ends a session by raw ID with a reason; true if it was live. */
  revoke(sid: string, reason: SessionEndReason, detail?: Record<string, unknown>): boolean {
    return this.endByHash(hashSessionId(sid), reason, detail);
  }

  /** Ends a session named by a handle prefix (CLI, admin). Throws if the prefix is ambiguous. */
  revokeByHandle(prefix: string, reason: SessionEndReason, by: string): SessionInfo | null {
    const clean = prefix.toLowerCase();
    if (!/^[0-9a-f]{6,64}$/.test(clean)) throw new RangeError('a session handle is 6 to 64 hexadecimal characters');
    const matches = this.db
      .prepare(
        `SELECT id_hash FROM sessions
         WHERE deleted_at IS NULL AND idle_expires_at > @now AND absolute_expires_at > @now
           AND id_hash >= @low AND id_hash < @high LIMIT 2`,
      )
      .pluck()
      .all({ now: this.clock.now(), low: clean, high: `${clean}g` }) as string[];
    if (matches.length > 1) throw new RangeError(`the handle ${clean} matches more than one session; give more characters`);
    const hash = matches[0];
    if (!hash) return null;
    this.endByHash(hash, reason, undefined, by);
    return this.describe(hash);
  }

  /**
   * Ends one of a user's own live sessions by its full handle; null when the user has no
   * such live session (another user's handle is not found either, so nothing leaks).
   */
  revokeOwn(userId: number, handle: string, reason: SessionEndReason, by: string): SessionInfo | null {
    const clean = handle.toLowerCase();
    if (!/^[0-9a-f]{12}$/.test(clean)) return null;
    const hash = this.db
      .prepare(
        `SELECT id_hash FROM sessions
         WHERE user_id = @userId AND deleted_at IS NULL AND idle_expires_at > @now AND absolute_expires_at > @now
           AND id_hash >= @low AND id_hash < @high LIMIT 1`,
      )
      .pluck()
      .get({ userId, now: this.clock.now(), low: clean, high: `${clean}g` }) as string | undefined;
    if (!hash) return null;
    this.endByHash(hash, reason, undefined, by);
    return this.describe(hash);
  }

  /**
   * Ends all live sessions of a user except `exceptSid`; returns how many ended. The user's
   * session epoch moves on in the same transaction, so a sign-in or ID renewal that was in
   * flight cannot issue a successor afterwards (see succeed). The spared session, which must
   * still be live (else nothing changes: SessionEndedError), moves to the new epoch.
   */
  revokeUserSessions(userId: number, reason: SessionEndReason, options: { exceptSid?: string; by?: string } = {}): number {
    this.flushTouches();
    const except = options.exceptSid ? hashSessionId(options.exceptSid) : null;
    const rows = durably(this.db, () =>
      this.db.transaction(() => {
        const epoch = this.sql.bumpEpoch.get({ userId }) as number;
        if (except !== null && this.sql.restamp.run({ epoch, hash: except, userId }).changes === 0) throw new SessionEndedError('predecessor-ended');
        const ended = this.sql.softDeleteUser.all({ now: this.clock.now(), reason, userId, except, by: options.by ?? null }) as Array<{ id_hash: string }>;
        for (const r of ended) this.audit.sessionRevoked({ userId, session: handleOf(r.id_hash), reason, by: options.by ?? 'system' });
        return ended;
      })(),
    );
    for (const r of rows) this.forget(r.id_hash);
    this.ended(reason, rows.length);
    return rows.length;
  }

  private userExists(userId: number): boolean {
    return this.sql.userExists.get(userId) === 1;
  }

  /** The user's session epoch now: read it with a credential, before checking the credential. */
  epochOf(userId: number): number {
    return this.sql.epochOf.get(userId) as number;
  }

  /**
   * Issues a signed-in session under a new ID: the one way a signed-in row comes to be
   * (sign-in, second step, step-up, re-authentication, password change). In one transaction
   * it proves that what the request authenticated is still good, ends the predecessor and
   * inserts the successor; otherwise nothing changes and SessionEndedError is thrown.
   * - A renewal: the signed-in predecessor must be live, of the same user, and issued under
   *   the user's current epoch (no revoke-all since it was issued).
   * - A sign-in: the epoch read with the credential must still be current (no credential
   *   change or revoke-all while it was checked); with `consume` the predecessor (pending
   *   second factor) must be live. A live predecessor ends either way.
   */
  succeed(s: Succession): LiveSession {
    const before = hashSessionId(s.predecessor);
    const hash = hashSessionId(s.successor);
    const auth = s.data.auth;
    const { idleMs, absoluteMs } = lifetimesFor(this.policy, { remember: auth?.remember === true, signedIn: true });
    // Liveness is judged from the row: a use held in memory must reach it first.
    const cached = this.pendingTouches.has(before) ? this.cache?.peek(before) : undefined;
    if (cached) this.writeTouch(cached);
    const row = durably(this.db, () =>
      this.db.transaction(() => {
        const now = this.clock.now();
        const current = this.epochOf(s.userId);
        const ended = this.sql.endPredecessor.get({ hash: before, now }) as { user_id: number | null; auth_epoch: number | null } | undefined;
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
        if (!this.userExists(s.userId)) throw new SessionEndedError('user-gone');
        return this.sql.insertSignedIn.get({
          hash,
          userId: s.userId,
          data: JSON.stringify(s.data),
          boundIp: auth?.ip ?? null,
          userAgent: auth?.userAgent ? auth.userAgent.slice(0, USER_AGENT_MAX) : null,
          now,
          idleMs,
          absoluteMs,
          epoch: current,
          forwardHash: s.forwardHash,
        }) as SessionRow;
      })(),
    );
    this.forget(before);
    const live = toLive(row);
    this.cache?.set(hash, live);
    return live;
  }

  /** The live session behind a forward-auth cookie (by its hash), from the cache when warm. */
  lookupForward(forwardHash: string): LiveSession | null {
    const known = this.forwardIds.get(forwardHash);
    if (known) {
      const live = this.lookupHash(known);
      return live && live.forwardHash === forwardHash ? live : null;
    }
    const row = this.sql.selectForward.get(forwardHash) as SessionRow | undefined;
    if (!row) return null;
    // A forward hash names one ID for ever: remembering the pair can never point elsewhere.
    this.forwardIds.set(forwardHash, row.id_hash);
    return this.lookupHash(row.id_hash);
  }

  /** Ends a session by its hash (the theft check, which may hold only the forward cookie). */
  revokeHash(hash: string, reason: SessionEndReason, detail?: Record<string, unknown>): boolean {
    return this.endByHash(hash, reason, detail);
  }

  /** Sessions newest first; pre-login (anonymous) sessions only when asked for. */
  list(filter: { userId?: number; includeEnded?: boolean; includeAnonymous?: boolean; limit?: number } = {}): SessionInfo[] {
    this.flushTouches();
    const where: string[] = [];
    if (!filter.includeAnonymous) where.push("(s.user_id IS NOT NULL OR s.delete_reason = 'user-deleted')");
    const params: Record<string, unknown> = { now: this.clock.now(), limit: filter.limit ?? 1000 };
    if (filter.userId !== undefined) {
      where.push('s.user_id = @userId');
      params.userId = filter.userId;
    }
    if (!filter.includeEnded) where.push('s.deleted_at IS NULL AND s.idle_expires_at > @now AND s.absolute_expires_at > @now');
    const rows = this.db
      .prepare(
        `SELECT s.*, u.username FROM sessions s LEFT JOIN users u ON u.id = s.user_id
         ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
         ORDER BY s.deleted_at IS NOT NULL, s.last_seen_at DESC LIMIT @limit`,
      )
      .all(params) as Array<SessionRow & { username: string | null }>;
    return rows.map((r) => this.info(r, r.username));
  }

  /**
   * Ended signed-in sessions, most recently ended first: soft-deleted ones and expired ones
   * the sweeper has not marked yet (shown as ended by "expired" at their expiry). Sessions
   * replaced by a new ID of the same sign-in (reason `regenerated`) are not listed.
   */
  listEnded(filter: { userId?: number; limit?: number } = {}): SessionInfo[] {
    this.flushTouches();
    const rows = this.db
      .prepare(
        `SELECT s.*, u.username FROM sessions s LEFT JOIN users u ON u.id = s.user_id
         WHERE (s.user_id IS NOT NULL OR s.delete_reason = 'user-deleted')
           ${filter.userId !== undefined ? 'AND s.user_id = @userId' : ''}
           AND (s.deleted_at IS NOT NULL OR s.idle_expires_at <= @now OR s.absolute_expires_at <= @now)
           AND s.delete_reason IS NOT 'regenerated'
         ORDER BY coalesce(s.deleted_at, min(s.idle_expires_at, s.absolute_expires_at)) DESC LIMIT @limit`,
      )
      .all({ now: this.clock.now(), limit: filter.limit ?? 1000, ...(filter.userId !== undefined ? { userId: filter.userId } : {}) }) as Array<
      SessionRow & { username: string | null }
    >;
    return rows.map((r) => this.info(r, r.username));
  }

  /** Live signed-in sessions right now (for the admin overview). */
  countSignedIn(): number {
    this.flushTouches();
    return this.db
      .prepare('SELECT count(*) FROM sessions WHERE user_id IS NOT NULL AND deleted_at IS NULL AND idle_expires_at > @now AND absolute_expires_at > @now')
      .pluck()
      .get({ now: this.clock.now() }) as number;
  }

  /**
   * Sessions of a user ended by theft detection that the user has not been told about
   * yet; marks them as told. For the notice on the next sign-in.
   */
  takeTheftNotices(userId: number): Array<{ at: number; boundIp: string; seenIp: string }> {
    const rows = this.db
      .prepare(
        `UPDATE sessions SET delete_detail = json_set(delete_detail, '$.notified', json('true'))
         WHERE user_id = ? AND delete_reason = 'ip-mismatch' AND json_extract(delete_detail, '$.notified') = 0
         RETURNING deleted_at, json_extract(delete_detail, '$.bound_ip') AS bound_ip, json_extract(delete_detail, '$.seen_ip') AS seen_ip`,
      )
      .all(userId) as Array<{ deleted_at: number; bound_ip: string; seen_ip: string }>;
    return rows.map((r) => ({ at: r.deleted_at, boundIp: r.bound_ip, seenIp: r.seen_ip })).sort((a, b) => a.at - b.at);
  }

  describe(hash: string): SessionInfo | null {
    const row = this.sql.selectAny.get(hash) as SessionRow | undefined;
    if (!row) return null;
    const username = row.user_id === null ? null : ((this.db.prepare('SELECT username FROM users WHERE id = ?').pluck().get(row.user_id) as string | undefined) ?? null);
    return this.info(row, username);
  }

  /** Writes every pending touch now (before a sweep, a listing, and at shutdown). */
  flushTouches(): void {
    if (this.pendingTouches.size === 0) return;
    this.db.transaction(() => {
      for (const hash of this.pendingTouches) {
        const live = this.cache?.peek(hash);
        if (live) this.writeTouch(live);
      }
    })();
    this.pendingTouches.clear();
  }

  /**
   * Marks expired rows and purges soft-deleted rows past their retention, a batch of rows
   * per statement with a turn of the event loop between batches (SECURITY.md: no step holds
   * it long, whatever the row count). `signal` stops it between batches (shutdown).
   */
  async sweep(options: BatchOptions = {}): Promise<{ expired: number; purged: number }> {
    this.flushTouches();
    // One "now" for the whole sweep: a session used while it yields was live at this time.
    const now = this.clock.now();
    const expire = (statement: Statement) => (limit: number) => {
      const rows = statement.all({ now, limit }) as Array<{ id_hash: string; user_id: number | null }>;
      for (const r of rows) this.forget(r.id_hash);
      this.ended('expired', rows.filter((r) => r.user_id !== null).length);
      return rows.length;
    };
    const purge = (statement: Statement, cutoff: number) => (limit: number) => statement.run({ cutoff, limit }).changes;
    const expired = (await inBatches(expire(this.sql.expireIdle), options)) + (await inBatches(expire(this.sql.expireAbsolute), options));
    // Ended signed-in sessions stay for the retention period; pre-login ones only briefly.
    const anonymousCutoff = now - Math.min(ANONYMOUS_RETENTION_MS, this.policy.retentionMs);
    const purged =
      (await inBatches(purge(this.sql.purgeEnded, now - this.policy.retentionMs), options)) +
      (await inBatches(purge(this.sql.purgeAnonymous, anonymousCutoff), options));
    return { expired, purged };
  }

  /** Live pre-login (anonymous) sessions, counted up to `max` (an index walk of at most `max` entries). */
  countAnonymousLive(max: number): number {
    return this.sql.countAnonymousLive.get({ now: this.clock.now(), max }) as number;
  }

  close(): void {
    this.flushTouches();
    this.cache?.clear();
  }

  private takeValueSql: Statement | null = null;

  /**
   * Takes a single-use value (a WebAuthn challenge) out of a live session's stored data:
   * removes `key` (plain names, dotted for a nested one: `passkeyChallenge.challenge`) only
   * while the row still holds the string `expected` there, in one statement. Of requests
   * racing with one cookie, each holding its own copy of the session, exactly one gets
   * true; the rule is in SQL, so it holds across processes. The cached copy follows the row.
   */
  takeSessionValue(sid: string, key: string, expected: string): boolean {
    if (!/^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$/.test(key)) throw new RangeError(`not a session data key: ${key}`);
    this.takeValueSql ??= this.db.prepare(`
      UPDATE sessions SET data = json_remove(data, @path)
      WHERE id_hash = @hash AND deleted_at IS NULL AND json_type(data, @path) = 'text' AND json_extract(data, @path) = @expected
      RETURNING data`);
    const hash = hashSessionId(sid);
    const row = this.takeValueSql.get({ hash, path: `$.${key}`, expected }) as { data: string } | undefined;
    if (!row) return false;
    const cached = this.cache?.peek(hash);
    if (cached) cached.data = row.data;
    return true;
  }

  // ---- internals -----------------------------------------------------------------------

  private save(sid: string, sess: SessionData): void {
    const hash = hashSessionId(sid);
    const userId = typeof sess.passport?.user === 'number' ? sess.passport.user : null;
    // The upsert judges expiry from the row: a use still held in memory must reach the row
    // first, or a session that `get` just found alive would be refused and ended here.
    const cached = this.pendingTouches.has(hash) ? this.cache?.peek(hash) : undefined;
    if (cached) this.writeTouch(cached);
    const now = this.clock.now();
    const data = JSON.stringify(sess);
    let row: SessionRow | undefined;
    if (userId === null) {
      const { idleMs, absoluteMs } = lifetimesFor(this.policy, { remember: false, signedIn: false });
      row = this.sql.upsertAnonymous.get({ hash, data, now, idleMs, absoluteMs }) as SessionRow | undefined;
    } else {
      // Saves over its own row only: a signed-in row is created by succeed() alone.
      row = this.sql.updateSignedIn.get({ hash, userId, data, now }) as SessionRow | undefined;
    }
    if (row) {
      this.pendingTouches.delete(hash);
      if (row.user_id !== null) this.cache?.set(hash, toLive(row));
      else this.cache?.delete(hash);
      return;
    }
    // Refused. Either the row is ended or expired (a late save must not bring it back,
    // expressjs/session#632), or the data names another user than the row, or a signed-in
    // session that was never issued (sign-in always goes through succeed): fail closed.
    const existing = this.sql.selectAny.get(hash) as SessionRow | undefined;
    let state = existing?.delete_reason ?? (existing ? 'expired' : 'never-issued');
    if (existing && existing.deleted_at === null) {
      const otherUser = userId !== null && existing.user_id !== userId;
      state = otherUser ? 'user-mismatch' : 'expired';
      this.endByHash(hash, otherUser ? 'revoked' : 'expired');
    }
    this.forget(hash);
    this.audit.resurrectionBlocked({ userId: existing?.user_id ?? userId, session: handleOf(hash), state });
    this.emit('resurrection-blocked', handleOf(hash));
  }

  private endByHash(hash: string, reason: SessionEndReason, detail?: Record<string, unknown>, by?: string): boolean {
    // The ending and its audit entry commit together; a session ended on purpose is fsynced
    // (a sign-out lost to a power cut would bring it back). Expiry needs no such care: the
    // row's timestamps end the session whether or not the mark survives.
    const end = () =>
      this.db.transaction(() => {
        // Who ended it is kept with the session: its owner's page says "an administrator" or "another of your devices".
        const stored = by !== undefined ? { ...detail, by } : detail;
        const ended = this.sql.softDelete.get({ hash, reason, now: this.clock.now(), detail: stored ? JSON.stringify(stored) : null }) as
          | { id_hash: string; user_id: number | null }
          | undefined;
        // Audit endings of signed-in sessions; anonymous pre-login sessions are not events, and
        // logout and theft detection write their own, richer events.
        if (ended && ended.user_id !== null && reason !== 'regenerated' && reason !== 'logout' && reason !== 'ip-mismatch') {
          this.audit.sessionRevoked({ userId: ended.user_id, session: handleOf(hash), reason, by: by ?? 'system' });
        }
        return ended;
      })();
    const row = reason === 'expired' ? end() : durably(this.db, end);
    this.forget(hash);
    if (row && row.user_id !== null) this.ended(reason, 1);
    return row !== undefined;
  }

  /** Tells listeners (the metrics) that signed-in sessions ended: `sessions-ended` (reason, count). */
  private ended(reason: SessionEndReason, count: number): void {
    if (count > 0) this.emit('sessions-ended', reason, count);
  }

  private forget(hash: string): void {
    this.pendingTouches.delete(hash);
    this.cache?.delete(hash);
  }

  private writeTouch(live: LiveSession): void {
    this.sql.touch.run({ hash: live.hash, at: live.lastSeenAt });
    live.persistedLastSeenAt = live.lastSeenAt;
    this.pendingTouches.delete(live.hash);
  }

  /** Another process (the CLI) committed: it may have ended sessions, so forget them all. */
  private dropCache(): void {
    if (this.cache && this.cache.size > 0) {
      this.flushTouches();
      this.cache.clear();
    }
  }

  private info(row: SessionRow, username: string | null): SessionInfo {
    const cached = row.deleted_at === null ? this.cache?.peek(row.id_hash) : undefined;
    const lastSeenAt = Math.max(row.last_seen_at, cached?.lastSeenAt ?? 0);
    const ends = expiresAt({ lastSeenAt, idleTimeoutMs: row.idle_timeout_ms, absoluteExpiresAt: row.absolute_expires_at });
    // Expired but not yet swept: ended all the same, by "expired", at its expiry.
    const unswept = row.deleted_at === null && ends <= this.clock.now();
    return {
      handle: handleOf(row.id_hash),
      userId: row.user_id,
      username,
      boundIp: row.bound_ip,
      userAgent: row.user_agent,
      createdAt: row.created_at,
      lastSeenAt,
      expiresAt: ends,
      deletedAt: unswept ? ends : row.deleted_at,
      deleteReason: unswept ? 'expired' : (row.delete_reason as SessionEndReason | null),
      endedBy: unswept ? null : endedBy(row.delete_detail),
    };
  }
}

/** The `by` recorded when a session was ended on purpose (null for older rows and expiry). */
function endedBy(detail: string | null | undefined): string | null {
  if (!detail) return null;
  try {
    const by = (JSON.parse(detail) as { by?: unknown }).by;
    return typeof by === 'string' ? by : null;
  } catch {
    return null;
  }
}
