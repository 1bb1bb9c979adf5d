// What gatehouse keeps in a session, and the public view of a stored session.

import type { SessionEndReason } from '../audit/events.js';
import type { FlashMessage } from '../http/flash.js';

/** Sign-in facts recorded in the session at login; the store copies them into columns. */
export interface SessionAuth {
  /** Epoch ms of the last successful authentication. */
  at: number;
  /** Client IP the session was bound to at sign-in. */
  ip: string;
  userAgent: string;
  remember: boolean;
}

declare module 'express-session' {
  interface SessionData {
    passport?: { user?: number };
    auth?: SessionAuth;
    /** One-time messages shown on the next page (src/http/flash.ts). */
    flash?: FlashMessage[];
  }
}

/** A session as listed to users and administrators (never the ID or its full hash). */
export interface SessionInfo {
  /** First 12 hex characters of SHA-256(ID): enough to name it, useless to steal it. */
  handle: string;
  userId: number | null;
  username: string | null;
  boundIp: string | null;
  userAgent: string | null;
  createdAt: number;
  lastSeenAt: number;
  expiresAt: number;
  deletedAt: number | null;
  deleteReason: SessionEndReason | null;
}

export const HANDLE_LENGTH = 12;
