// What gatehouse keeps in a session, and the public view of a stored session.

import type { SessionEndReason } from '../audit/events.js';

/** Sign-in facts recorded in the session at login; the store copies them into columns. */
export interface SessionAuth {
  /** Epoch ms of the last successful authentication. */
  at: number;
  /** Client IP the session was bound to at sign-in. */
  ip: string;
  userAgent: string;
  remember: boolean;
  /**
   * Authentication level: 1 after a password alone, 2 after a password and a second factor.
   * Absent in sessions signed in before two-factor sign-in existed: read as 1.
   */
  level?: AuthLevel;
  /** Epoch ms of the second factor that raised the session to level 2 (absent at level 1). */
  secondFactorAt?: number;
  /** How the user proved who they are, in order: always 'password' first. */
  methods?: AuthMethod[];
}

export type AuthLevel = 1 | 2;
export type SecondFactorMethod = 'totp' | 'recovery-code' | 'passkey';
/** A browser remembered after an earlier second factor there (src/twofactor/remembered-devices.ts). */
export type RememberedMethod = 'remembered-device';
export type AuthMethod = 'password' | SecondFactorMethod | RememberedMethod;

/**
 * A correct password for an account with a second factor, waiting for that factor: the
 * session is NOT signed in (no passport user) until /login/second-factor completes. Short
 * lived (src/auth/second-factor-routes.ts).
 */
export interface PendingSecondFactor {
  userId: number;
  /** Epoch ms of the correct password. */
  at: number;
  remember: boolean;
  /** Where to go after signing in (already checked by safeRedirectTarget). */
  rd: string | null;
  /** The user's session epoch read with the password (see Sessions.succeed). */
  epoch: number;
}

/** The session's level; sessions from before levels existed are level 1. */
export const authLevel = (auth: SessionAuth | undefined): AuthLevel => (auth?.level === 2 ? 2 : 1);

export type FlashKind = 'notice' | 'warning' | 'error';

/** A one-time message kept in the session until the next page shows it (src/http/flash.ts). */
export interface FlashMessage {
  kind: FlashKind;
  text: string;
}

declare module 'express-session' {
  interface SessionData {
    passport?: { user?: number };
    auth?: SessionAuth;
    /** Password accepted, second factor outstanding (not signed in). */
    pendingSecondFactor?: PendingSecondFactor;
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
  /** Who ended it on purpose, as in the audit log (`user:…`, `admin:…`, `cli:…`); null when unknown. */
  endedBy: string | null;
}

export const HANDLE_LENGTH = 12;
