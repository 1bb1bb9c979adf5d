// What the session modules share: how an ID is known (its hash, its handle), a row as stored,
// a live session as held in memory, a succession and why one is refused. The engine
// (sqlite.ts) stores rows, the domain module (sessions.ts) holds the cache and the rules,
// express-store.ts adapts the domain module to express-session.

import type { SessionData } from 'express-session';
import { sha256Hex } from '../lib/crypto.js';
import { HANDLE_LENGTH } from './types.js';

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

/** What a new signed-in session ID is issued for (see Sessions.succeed). */
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

/** How a session ID is stored and looked up: never the ID itself. */
export const hashSessionId = (sid: string): string => sha256Hex(sid);
/** The short public name of a session, as listed to users and administrators. */
export const handleOf = (hash: string): string => hash.slice(0, HANDLE_LENGTH);

export function expiresAt(s: Pick<LiveSession, 'lastSeenAt' | 'idleTimeoutMs' | 'absoluteExpiresAt'>): number {
  return Math.min(s.lastSeenAt + s.idleTimeoutMs, s.absoluteExpiresAt);
}
