// The sessions domain: a bounded write-through cache of signed-in sessions, coalesced
// touches, expiry judged from the row's timestamps, and the named operations the rest of
// gatehouse uses (look up, record a use, succeed, revoke, list, sweep). Rows are stored by
// the engine (sqlite.ts), which enforces the rules that must hold across processes;
// express-session reaches this through express-store.ts.

import { EventEmitter } from 'node:events';
import type { SessionData } from 'express-session';
import { LRUCache } from 'lru-cache';
import type { Audit, SessionEndReason } from '../audit/events.js';
import { inBatches, type BatchOptions } from '../db/batches.js';
import type { Clock } from '../lib/clock.js';
import { ANONYMOUS_RETENTION_MS, lifetimesFor, type SessionPolicy } from './policy.js';
import type { EndedRow, SqliteSessionEngine } from './sqlite.js';
import { expiresAt, handleOf, hashSessionId, type LiveSession, type SessionRow, type Succession } from './store.js';
import type { SessionInfo } from './types.js';

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

/**
 * Emits `sessions-ended` (reason, count) when signed-in sessions end (the metrics listen)
 * and `resurrection-blocked` (handle) when a late save is refused.
 */
export class Sessions extends EventEmitter {
  private readonly cache: LRUCache<string, LiveSession> | null;
  private readonly pendingTouches = new Set<string>();
  /** Forward-auth cookie hash → session ID hash, for warm forward-auth checks. */
  private readonly forwardIds: LRUCache<string, string>;

  constructor(
    private readonly engine: SqliteSessionEngine,
    private readonly clock: Clock,
    private readonly policy: SessionPolicy,
    private readonly audit: Pick<Audit, 'resurrectionBlocked' | 'sessionRevoked'>,
    private readonly changes: { subscribe(fn: () => void): void; poll(): void },
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
  }

  // ---- one session ----------------------------------------------------------------------

  /** The live, unexpired session for a raw ID, from the cache when warm; null otherwise. */
  lookup(sid: string): LiveSession | null {
    return this.lookupHash(hashSessionId(sid));
  }

  lookupHash(hash: string): LiveSession | null {
    this.changes.poll();
    const now = this.clock.now();
    let live = this.cache?.get(hash) ?? null;
    if (!live) {
      const row = this.engine.findLive(hash);
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

  /** The live session behind a forward-auth cookie (by its hash), from the cache when warm. */
  lookupForward(forwardHash: string): LiveSession | null {
    const known = this.forwardIds.get(forwardHash);
    if (known) {
      const live = this.lookupHash(known);
      return live && live.forwardHash === forwardHash ? live : null;
    }
    const row = this.engine.findLiveByForwardHash(forwardHash);
    if (!row) return null;
    // A forward hash names one ID for ever: remembering the pair can never point elsewhere.
    this.forwardIds.set(forwardHash, row.id_hash);
    return this.lookupHash(row.id_hash);
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
      this.engine.touchCoalesced(hash, now, this.policy.touchIntervalMs);
      return;
    }
    if (expiresAt(live) <= now) return;
    live.lastSeenAt = Math.max(live.lastSeenAt, now);
    if (now - live.persistedLastSeenAt >= this.policy.touchIntervalMs) this.writeTouch(live);
    else this.pendingTouches.add(hash);
  }

  /**
   * Saves what a request changed in its session (express-session's `set`). A pre-login
   * session is inserted or updated; a signed-in one only updates its own row (signed-in
   * rows come from `succeed` alone). A save the engine refuses (an ended or expired row,
   * another user's, or a signed-in one never issued) does not bring anything back
   * (expressjs/session#632): it is audited as a blocked resurrection and fails closed.
   */
  save(sid: string, sess: SessionData): void {
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
      row = this.engine.saveAnonymous({ hash, data, now, idleMs, absoluteMs });
    } else {
      row = this.engine.saveSignedIn({ hash, userId, data, now });
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
    const existing = this.engine.find(hash);
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

  /**
   * Takes a single-use value (a WebAuthn challenge) out of a live session's stored data:
   * removes `key` (plain names, dotted for a nested one: `passkeyChallenge.challenge`) only
   * while the row still holds the string `expected` there, in one statement. Of requests
   * racing with one cookie, each holding its own copy of the session, exactly one gets
   * true; the rule is in SQL, so it holds across processes. The cached copy follows the row.
   */
  takeSessionValue(sid: string, key: string, expected: string): boolean {
    if (!/^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$/.test(key)) throw new RangeError(`not a session data key: ${key}`);
    const hash = hashSessionId(sid);
    const data = this.engine.takeValue(hash, `$.${key}`, expected);
    if (data === undefined) return false;
    const cached = this.cache?.peek(hash);
    if (cached) cached.data = data;
    return true;
  }

  // ---- new session IDs -------------------------------------------------------------------

  /** The user's session epoch now: read it with a credential, before checking the credential. */
  epochOf(userId: number): number {
    return this.engine.epochOf(userId);
  }

  /**
   * Issues a signed-in session under a new ID: the one way a signed-in row comes to be
   * (sign-in, second step, step-up, re-authentication, password change). In one transaction
   * the engine proves that what the request authenticated is still good, ends the
   * predecessor and inserts the successor; otherwise nothing changes and SessionEndedError
   * is thrown (SqliteSessionEngine.succeed has the rules).
   */
  succeed(s: Succession): LiveSession {
    const before = hashSessionId(s.predecessor);
    const hash = hashSessionId(s.successor);
    const auth = s.data.auth;
    const { idleMs, absoluteMs } = lifetimesFor(this.policy, { remember: auth?.remember === true, signedIn: true });
    // Liveness is judged from the row: a use held in memory must reach it first.
    const cached = this.pendingTouches.has(before) ? this.cache?.peek(before) : undefined;
    if (cached) this.writeTouch(cached);
    const row = this.engine.succeed({
      before,
      hash,
      userId: s.userId,
      data: JSON.stringify(s.data),
      boundIp: auth?.ip ?? null,
      userAgent: auth?.userAgent ? auth.userAgent.slice(0, USER_AGENT_MAX) : null,
      now: this.clock.now(),
      idleMs,
      absoluteMs,
      forwardHash: s.forwardHash,
      ...(s.epoch !== undefined ? { epoch: s.epoch } : {}),
      ...(s.consume ? { consume: true } : {}),
    });
    this.forget(before);
    const live = toLive(row);
    this.cache?.set(hash, live);
    return live;
  }

  // ---- ending sessions -------------------------------------------------------------------

  /** Ends a session by raw ID with a reason; true if it was live. */
  revoke(sid: string, reason: SessionEndReason, detail?: Record<string, unknown>): boolean {
    return this.endByHash(hashSessionId(sid), reason, detail);
  }

  /** Ends a session by its hash (the theft check, which may hold only the forward cookie). */
  revokeHash(hash: string, reason: SessionEndReason, detail?: Record<string, unknown>): boolean {
    return this.endByHash(hash, reason, detail);
  }

  /** Ends a session named by a handle prefix (CLI, admin). Throws if the prefix is ambiguous. */
  revokeByHandle(prefix: string, reason: SessionEndReason, by: string): SessionInfo | null {
    const clean = prefix.toLowerCase();
    if (!/^[0-9a-f]{6,64}$/.test(clean)) throw new RangeError('a session handle is 6 to 64 hexadecimal characters');
    const matches = this.engine.liveHashesByPrefix(clean, this.clock.now());
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
    const hash = this.engine.liveHashOfUser(userId, clean, this.clock.now());
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
    const rows = this.engine.transaction(
      () => {
        const ended = this.engine.endAllForUser({ userId, reason, now: this.clock.now(), except, by: options.by ?? null });
        for (const r of ended) this.audit.sessionRevoked({ userId, session: handleOf(r.id_hash), reason, by: options.by ?? 'system' });
        return ended;
      },
      { durable: true },
    );
    for (const r of rows) this.forget(r.id_hash);
    this.ended(reason, rows.length);
    return rows.length;
  }

  /** Ends every live session (soft delete, reason `cleared`). */
  clear(): void {
    const rows = this.engine.clearLive(this.clock.now());
    for (const r of rows) this.forget(r.id_hash);
    this.ended('cleared', rows.filter((r) => r.user_id !== null).length);
  }

  /**
   * Sessions of a user ended by theft detection that the user has not been told about
   * yet; marks them as told. For the notice on the next sign-in.
   */
  takeTheftNotices(userId: number): Array<{ at: number; boundIp: string; seenIp: string }> {
    return this.engine
      .takeTheftNotices(userId)
      .map((r) => ({ at: r.deleted_at, boundIp: r.bound_ip, seenIp: r.seen_ip }))
      .sort((a, b) => a.at - b.at);
  }

  // ---- listings ----------------------------------------------------------------------------

  /** Sessions newest first; pre-login (anonymous) sessions only when asked for. */
  list(filter: { userId?: number; includeEnded?: boolean; includeAnonymous?: boolean; limit?: number } = {}): SessionInfo[] {
    this.flushTouches();
    const rows = this.engine.list({
      ...(filter.userId !== undefined ? { userId: filter.userId } : {}),
      includeEnded: filter.includeEnded === true,
      includeAnonymous: filter.includeAnonymous === true,
      limit: filter.limit ?? 1000,
      now: this.clock.now(),
    });
    return rows.map((r) => this.info(r, r.username));
  }

  /**
   * Ended signed-in sessions, most recently ended first: soft-deleted ones and expired ones
   * the sweeper has not marked yet (shown as ended by "expired" at their expiry). Sessions
   * replaced by a new ID of the same sign-in (reason `regenerated`) are not listed.
   */
  listEnded(filter: { userId?: number; limit?: number } = {}): SessionInfo[] {
    this.flushTouches();
    const rows = this.engine.listEnded({ ...(filter.userId !== undefined ? { userId: filter.userId } : {}), limit: filter.limit ?? 1000, now: this.clock.now() });
    return rows.map((r) => this.info(r, r.username));
  }

  /** Live signed-in sessions right now (for the admin overview). */
  countSignedIn(): number {
    this.flushTouches();
    return this.engine.countSignedIn(this.clock.now());
  }

  /** Live sessions right now, pre-login ones included (express-session's `length`). */
  countLive(): number {
    this.flushTouches();
    return this.engine.countLive(this.clock.now());
  }

  /** Live sessions keyed by their hash: the raw IDs are not stored anywhere, by design. */
  allLive(): Record<string, SessionData> {
    // Pending touches first: a session kept alive only in memory is still live.
    this.flushTouches();
    const rows = this.engine.allLive(this.clock.now());
    return Object.fromEntries(rows.map((r) => [r.id_hash, JSON.parse(r.data) as SessionData]));
  }

  /** Live pre-login (anonymous) sessions, counted up to `max` (an index walk of at most `max` entries). */
  countAnonymousLive(max: number): number {
    return this.engine.countAnonymousLive(this.clock.now(), max);
  }

  describe(hash: string): SessionInfo | null {
    const row = this.engine.find(hash);
    if (!row) return null;
    return this.info(row, row.user_id === null ? null : this.engine.usernameOf(row.user_id));
  }

  // ---- upkeep ----------------------------------------------------------------------------

  /** Writes every pending touch now (before a sweep, a listing, and at shutdown). */
  flushTouches(): void {
    if (this.pendingTouches.size === 0) return;
    this.engine.transaction(() => {
      for (const hash of this.pendingTouches) {
        const live = this.cache?.peek(hash);
        if (live) this.writeTouch(live);
      }
    });
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
    const expire = (batch: (now: number, limit: number) => EndedRow[]) => (limit: number) => {
      const rows = batch(now, limit);
      for (const r of rows) this.forget(r.id_hash);
      this.ended('expired', rows.filter((r) => r.user_id !== null).length);
      return rows.length;
    };
    const expired =
      (await inBatches(expire((n, l) => this.engine.expireIdle(n, l)), options)) +
      (await inBatches(expire((n, l) => this.engine.expireAbsolute(n, l)), options));
    // Ended signed-in sessions stay for the retention period; pre-login ones only briefly.
    const endedCutoff = now - this.policy.retentionMs;
    const anonymousCutoff = now - Math.min(ANONYMOUS_RETENTION_MS, this.policy.retentionMs);
    const purged =
      (await inBatches((limit) => this.engine.purgeEnded(endedCutoff, limit), options)) +
      (await inBatches((limit) => this.engine.purgeAnonymous(anonymousCutoff, limit), options));
    return { expired, purged };
  }

  close(): void {
    this.flushTouches();
    this.cache?.clear();
  }

  // ---- internals ---------------------------------------------------------------------------

  private endByHash(hash: string, reason: SessionEndReason, detail?: Record<string, unknown>, by?: string): boolean {
    // The ending and its audit entry commit together; a session ended on purpose is fsynced
    // (a sign-out lost to a power cut would bring it back). Expiry needs no such care: the
    // row's timestamps end the session whether or not the mark survives.
    const row = this.engine.transaction(
      () => {
        // Who ended it is kept with the session: its owner's page says "an administrator" or "another of your devices".
        const stored = by !== undefined ? { ...detail, by } : detail;
        const ended = this.engine.softDelete({ hash, reason, now: this.clock.now(), detail: stored ? JSON.stringify(stored) : null });
        // Audit endings of signed-in sessions; anonymous pre-login sessions are not events, and
        // logout and theft detection write their own, richer events.
        if (ended && ended.user_id !== null && reason !== 'regenerated' && reason !== 'logout' && reason !== 'ip-mismatch') {
          this.audit.sessionRevoked({ userId: ended.user_id, session: handleOf(hash), reason, by: by ?? 'system' });
        }
        return ended;
      },
      { durable: reason !== 'expired' },
    );
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
    this.engine.touch(live.hash, live.lastSeenAt);
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
