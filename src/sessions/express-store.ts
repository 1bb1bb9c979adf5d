// express-session's Store over the sessions domain (sessions.ts): the seven methods, as in
// express-session's own MemoryStore, each a call to a named operation. Raw IDs stop here:
// the domain hashes them, and `all` is keyed by hash because no raw ID is stored.

import session, { type SessionData } from 'express-session';
import type { Sessions } from './sessions.js';

/** Callback-style Store methods run the synchronous operations and report throws. */
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

export class ExpressSessionStore extends session.Store {
  constructor(private readonly sessions: Sessions) {
    super();
  }

  /** Null for a missing, ended or expired session. */
  override get(sid: string, callback: (err: unknown, session?: SessionData | null) => void): void {
    settle(callback, () => {
      const live = this.sessions.lookup(sid);
      return live ? (JSON.parse(live.data) as SessionData) : null;
    });
  }

  /** Never brings an ended or expired session back (see Sessions.save). */
  override set(sid: string, sess: SessionData, callback?: (err?: unknown) => void): void {
    settle(callback, () => this.sessions.save(sid, sess));
  }

  /** express-session calls this from `destroy()` and `regenerate()`; named endings use `revoke`. */
  override destroy(sid: string, callback?: (err?: unknown) => void): void {
    settle(callback, () => {
      this.sessions.revoke(sid, 'regenerated');
    });
  }

  override touch(sid: string, _sess: SessionData, callback?: (err?: unknown) => void): void {
    settle(callback, () => this.sessions.recordUse(sid));
  }

  /** Live sessions keyed by their hash: the raw IDs are not stored anywhere, by design. */
  override all(callback: (err: unknown, obj?: { [hash: string]: SessionData } | null) => void): void {
    settle(callback, () => this.sessions.allLive());
  }

  override length(callback: (err: unknown, length?: number) => void): void {
    settle(callback, () => this.sessions.countLive());
  }

  /** Ends every live session (soft delete, reason `cleared`). */
  override clear(callback?: (err?: unknown) => void): void {
    settle(callback, () => this.sessions.clear());
  }
}
