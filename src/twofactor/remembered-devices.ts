// "Remember this device": after a second factor, a browser may skip the second step for
// that user for a while (config two_factor.remember_device). The browser holds a random
// 256-bit token in its own HttpOnly cookie (src/auth/remember-device-cookie.ts); the
// database holds only the token's SHA-256, so a copy of the database cannot be replayed
// as a cookie. A token is good for one user, until it expires or is revoked (by the user
// on /account, a password change, a second-factor reset, or disabling the account).

import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Statement } from 'better-sqlite3';
import type { Db } from '../db/connection.js';
import type { Clock } from '../lib/clock.js';
import type { Audit } from '../audit/events.js';

export type RevokeReason = 'revoked' | 'password-changed' | 'second-factor-reset' | 'user-disabled';

export interface RememberedDevice {
  id: number;
  userAgent: string | null;
  ip: string | null;
  createdAt: number;
  expiresAt: number;
  lastUsedAt: number | null;
}

/** A token as it goes into the cookie: 43 base64url characters (256 random bits). */
const TOKEN_SHAPE = /^[A-Za-z0-9_-]{43}$/;

export const hashDeviceToken = (token: string): string => createHash('sha256').update(token, 'utf8').digest('hex');

interface Row {
  id: number;
  user_id: number;
  token_hash: string;
  user_agent: string | null;
  ip: string | null;
  created_at: number;
  expires_at: number;
  last_used_at: number | null;
}

export class RememberedDevices {
  private readonly sql: Record<'insert' | 'byHash' | 'touch' | 'list' | 'revoke' | 'revokeAll', Statement>;

  constructor(
    db: Db,
    private readonly clock: Clock,
    private readonly audit: Audit,
  ) {
    this.sql = {
      insert: db.prepare('INSERT INTO remembered_devices (user_id, token_hash, user_agent, ip, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)'),
      byHash: db.prepare('SELECT * FROM remembered_devices WHERE token_hash = ? AND revoked_at IS NULL'),
      touch: db.prepare('UPDATE remembered_devices SET last_used_at = ? WHERE id = ?'),
      list: db.prepare(
        'SELECT * FROM remembered_devices WHERE user_id = ? AND revoked_at IS NULL AND expires_at > ? ORDER BY created_at DESC, id DESC',
      ),
      revoke: db.prepare('UPDATE remembered_devices SET revoked_at = ?, revoke_reason = ? WHERE id = ? AND user_id = ? AND revoked_at IS NULL'),
      revokeAll: db.prepare('UPDATE remembered_devices SET revoked_at = ?, revoke_reason = ? WHERE user_id = ? AND revoked_at IS NULL'),
    };
  }

  /**
   * Remembers a browser for `userId` for `durationMs`. Returns the token: it goes into the
   * cookie only (never stored, never logged).
   */
  create(userId: number, durationMs: number, info: { userAgent?: string | null; ip?: string | null } = {}): { token: string; id: number; expiresAt: number } {
    const token = randomBytes(32).toString('base64url');
    const now = this.clock.now();
    const expiresAt = now + durationMs;
    const result = this.sql.insert.run(userId, hashDeviceToken(token), info.userAgent?.slice(0, 256) ?? null, info.ip ?? null, now, expiresAt);
    const id = Number(result.lastInsertRowid);
    this.audit.deviceRemembered({ userId, ip: info.ip ?? null, device: id, until: expiresAt });
    return { token, id, expiresAt };
  }

  /**
   * Whether `token` (from the cookie; anything at all) is a live remembered device of
   * `userId`. A malformed, unknown, revoked, expired or other user's token is just false.
   */
  check(userId: number, token: unknown): boolean {
    if (typeof token !== 'string' || !TOKEN_SHAPE.test(token)) return false;
    const hash = hashDeviceToken(token);
    const row = this.sql.byHash.get(hash) as Row | undefined;
    if (!row || row.user_id !== userId) return false;
    if (!timingSafeEqual(Buffer.from(row.token_hash), Buffer.from(hash))) return false;
    const now = this.clock.now();
    if (row.expires_at <= now) return false;
    this.sql.touch.run(now, row.id);
    return true;
  }

  /** The user's live remembered devices, newest first. */
  list(userId: number): RememberedDevice[] {
    return (this.sql.list.all(userId, this.clock.now()) as Row[]).map((r) => ({
      id: r.id,
      userAgent: r.user_agent,
      ip: r.ip,
      createdAt: r.created_at,
      expiresAt: r.expires_at,
      lastUsedAt: r.last_used_at,
    }));
  }

  /** Forgets one of the user's devices; false when it is not theirs or already gone. */
  revoke(userId: number, id: number, reason: RevokeReason = 'revoked'): boolean {
    const revoked = this.sql.revoke.run(this.clock.now(), reason, id, userId).changes > 0;
    if (revoked) this.audit.deviceForgotten({ userId, device: id, count: 1, reason });
    return revoked;
  }

  /** Forgets every device of the user (password change, reset, disable); returns how many. */
  revokeAll(userId: number, reason: RevokeReason): number {
    const count = this.sql.revokeAll.run(this.clock.now(), reason, userId).changes;
    if (count > 0) this.audit.deviceForgotten({ userId, count, reason });
    return count;
  }
}

/** For code that has the database but no RememberedDevices at hand (accounts, two-factor reset). */
export function revokeAllRememberedDevices(db: Db, clock: Clock, audit: Audit, userId: number, reason: RevokeReason): number {
  return new RememberedDevices(db, clock, audit).revokeAll(userId, reason);
}
