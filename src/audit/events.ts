// Named, typed audit events: one function each, written to the audit_log table.
// Never pass a password, session ID, token or TOTP secret here; sessions are named by
// their public handle (a prefix of the SHA-256 of the ID).
//
// COALESCING (issue 11; README "Audit log"): the refusals anyone can cause without a
// credential (COALESCED_EVENTS) would otherwise add a row per request, forever. Repeats of
// one such event from one address (an IPv4 address or an IPv6 /64, the throttle's unit)
// with the same reason and the same typed username, within `audit.coalesce_window` of the
// first, add to that row's `count` (and move `last_at`) instead. Each of the first
// COALESCE_NAMES_PER_ADDRESS usernames an address tries in a window keeps a row of its own,
// so an administrator still sees which accounts were targeted and finds them by the user
// filter; further usernames share one row (username empty, `more_usernames: true`).
// Everything else (successes, sign-outs, second-factor failures, which need a password
// first, admin changes) is written one row per event.

import type { Statement } from 'better-sqlite3';
import { isIP } from 'node:net';
import { LRUCache } from 'lru-cache';
import type { Db } from '../db/connection.js';
import type { Clock } from '../lib/clock.js';
import { ipKey } from '../theft/client-ip.js';

/** The refusals an anonymous client can repeat at will: coalesced (see above). */
export const COALESCED_EVENTS: ReadonlySet<string> = new Set(['login-failed', 'login-throttled', 'setup-rejected']);
/** Usernames per address, event, reason and window with a row of their own. */
export const COALESCE_NAMES_PER_ADDRESS = 10;
/** Open windows remembered; beyond this the least recent is forgotten (its next repeat starts a new row). */
const COALESCE_WINDOWS_MAX = 10_000;

export type SessionEndReason =
  | 'logout'
  | 'expired'
  | 'ip-mismatch'
  | 'revoked'
  | 'password-changed'
  | 'user-disabled'
  | 'user-deleted'
  | 'session-limit'
  | 'regenerated'
  | 'cleared'
  /** The account got its first second factor: sessions signed in with the password alone end. */
  | 'second-factor-enrolled'
  /** An administrator or the CLI removed the user's second factors. */
  | 'second-factor-reset';

interface Who {
  userId?: number | null;
  username?: string | null;
  ip?: string | null;
}

/** An open coalescing window: the row repeats are added to. */
interface OpenRow {
  id: number;
  at: number;
  ip: string | null;
  username: string | null;
  until: number;
}

/** The usernames an address has its own rows for in one window. */
interface OpenNames {
  until: number;
  names: Set<string>;
}

/** Attempted usernames are attacker-controlled: keep them short and printable. */
function cleanName(name: string | null | undefined): string | null {
  if (name === null || name === undefined) return null;
  return name.replace(/[\p{C}]/gu, '?').slice(0, 64);
}

export class Audit {
  private readonly insert: Statement;
  private readonly repeat: Statement;
  private readonly coalesceMs: number;
  private readonly open = new LRUCache<string, OpenRow>({ max: COALESCE_WINDOWS_MAX });
  private readonly openNames = new LRUCache<string, OpenNames>({ max: COALESCE_WINDOWS_MAX });

  constructor(
    db: Db,
    private readonly clock: Clock,
    options: { coalesceWindowMs?: number } = {},
  ) {
    this.coalesceMs = options.coalesceWindowMs ?? 60_000;
    this.insert = db.prepare('INSERT INTO audit_log (at, event, user_id, username, ip, details) VALUES (?, ?, ?, ?, ?, ?)');
    // The id alone is not enough: a row inserted in a transaction that rolled back leaves
    // its id to the next insert, which must not receive someone else's count.
    this.repeat = db.prepare(`UPDATE audit_log SET count = count + 1, last_at = @now,
        details = CASE WHEN @network IS NOT NULL AND ip IS NOT @ip THEN json_set(details, '$.network', @network) ELSE details END
      WHERE id = @id AND at = @at AND event = @event AND ip IS @rowIp AND username IS @username`);
  }

  private write(event: string, who: Who, details: Record<string, unknown> = {}): void {
    if (this.coalesceMs > 0 && COALESCED_EVENTS.has(event)) return this.coalesce(event, who, details);
    this.insert.run(this.clock.now(), event, who.userId ?? null, cleanName(who.username), who.ip ?? null, JSON.stringify(details));
  }

  /** A repeat within the window adds to its row; else a new row opens a window. */
  private coalesce(event: string, who: Who, details: Record<string, unknown>): void {
    const now = this.clock.now();
    const ip = who.ip ?? null;
    const address = ip === null ? '' : ipKey(ip);
    const group = `${event}\u0000${address}\u0000${String(details.reason ?? '')}`;
    let name = cleanName(who.username);
    let names = this.openNames.get(group);
    if (!names || names.until <= now) this.openNames.set(group, (names = { until: now + this.coalesceMs, names: new Set() }));
    let extra: Record<string, unknown> = {};
    if (name !== null && !names.names.has(name)) {
      if (names.names.size < COALESCE_NAMES_PER_ADDRESS) names.names.add(name);
      else {
        name = null;
        extra = { more_usernames: true };
      }
    }
    const key = `${group}\u0000${name === null ? (extra.more_usernames ? '*' : '') : `=${name}`}`;
    const row = this.open.get(key);
    const network = ip !== null && isIP(ip) === 6 ? address : null;
    if (row && row.until > now && this.repeat.run({ id: row.id, at: row.at, event, rowIp: row.ip, username: row.username, now, ip, network }).changes === 1) return;
    const id = Number(this.insert.run(now, event, who.userId ?? null, name, ip, JSON.stringify({ ...details, ...extra })).lastInsertRowid);
    this.open.set(key, { id, at: now, ip, username: name, until: now + this.coalesceMs });
  }

  loginSucceeded(who: Who & { session: string; remember: boolean }): void {
    this.write('login-succeeded', who, { session: who.session, remember: who.remember });
  }
  loginFailed(who: Who & { reason: 'bad-credentials' | 'user-disabled' | 'invalid-input' }): void {
    this.write('login-failed', who, { reason: who.reason });
  }
  logout(who: Who & { session: string }): void {
    this.write('logout', who, { session: who.session });
  }
  sessionRevoked(who: Who & { session: string; reason: SessionEndReason; by?: string }): void {
    this.write('session-revoked', who, { session: who.session, reason: who.reason, by: who.by ?? null });
  }
  theftDetected(who: Who & { session: string; boundIp: string; via: string }): void {
    this.write('session-theft-detected', who, { session: who.session, bound_ip: who.boundIp, seen_ip: who.ip ?? null, via: who.via });
  }
  resurrectionBlocked(who: Who & { session: string; state: string }): void {
    this.write('session-resurrection-blocked', who, { session: who.session, state: who.state });
  }
  userCreated(who: Who & { groups: string[]; by: string }): void {
    this.write('user-created', who, { groups: who.groups, by: who.by });
  }
  userDisabled(who: Who & { by: string; sessionsRevoked: number }): void {
    this.write('user-disabled', who, { by: who.by, sessions_revoked: who.sessionsRevoked });
  }
  userEnabled(who: Who & { by: string }): void {
    this.write('user-enabled', who, { by: who.by });
  }
  userDeleted(who: Who & { by: string; sessionsRevoked: number }): void {
    this.write('user-deleted', who, { by: who.by, sessions_revoked: who.sessionsRevoked });
  }
  passwordChanged(who: Who & { by: string; sessionsRevoked: number }): void {
    this.write('password-changed', who, { by: who.by, sessions_revoked: who.sessionsRevoked });
  }
  /** A sign-in refused by the login regulator before any password check. */
  loginThrottled(who: Who & { reason: 'ip-banned' | 'user-locked' | 'backoff'; retryAfter: number }): void {
    this.write('login-throttled', who, { reason: who.reason, retry_after: who.retryAfter });
  }
  /** An address banned or a username locked; `count` is how many times so far (it doubles). */
  banImposed(who: Who & { scope: 'ip' | 'user' | 'pair'; cause: 'failures' | 'spraying'; until: number; durationMs: number; count: number }): void {
    this.write('ban-imposed', who, { scope: who.scope, cause: who.cause, until: who.until, duration_ms: who.durationMs, count: who.count });
  }
  banLifted(who: Who & { scope: 'ip' | 'user' | 'pair'; until: number; by: string }): void {
    this.write('ban-lifted', who, { scope: who.scope, until: who.until, by: who.by });
  }
  passwordReset(who: Who & { by: string; sessionsRevoked: number }): void {
    this.write('password-reset', who, { by: who.by, sessions_revoked: who.sessionsRevoked });
  }
  /** Profile or group changes by an administrator; `changes` names fields, never values of secrets. */
  userUpdated(who: Who & { by: string; changes: Record<string, unknown> }): void {
    this.write('user-updated', who, { by: who.by, changes: who.changes });
  }
  deletionRequested(who: Who): void {
    this.write('account-deletion-requested', who);
  }
  deletionCancelled(who: Who & { by: string }): void {
    this.write('account-deletion-cancelled', who, { by: who.by });
  }
  dataExported(who: Who): void {
    this.write('personal-data-exported', who);
  }
  /** The password asked again before a dangerous action. */
  reauthenticated(who: Who & { ok: boolean }): void {
    this.write(who.ok ? 'reauth-succeeded' : 'reauth-failed', who);
  }
  /** Tokens are named by their numeric id; the secret and its hash never appear here. */
  tokenCreated(who: Who & { token: number; scope: string; expiresAt: number; by: string }): void {
    this.write('api-token-created', who, { token: who.token, scope: who.scope, expires_at: who.expiresAt, by: who.by });
  }
  tokenRevoked(who: Who & { token: number; by: string }): void {
    this.write('api-token-revoked', who, { token: who.token, by: who.by });
  }
  /** Passkeys are named by their numeric id and the owner's label; never key material. */
  passkeyRegistered(who: Who & { passkey: number; name: string }): void {
    this.write('passkey-registered', who, { passkey: who.passkey, name: who.name });
  }
  passkeyRemoved(who: Who & { passkey: number; by: string }): void {
    this.write('passkey-removed', who, { passkey: who.passkey, by: who.by });
  }
  passkeyUsed(who: Who & { passkey: number }): void {
    this.write('passkey-used', who, { passkey: who.passkey });
  }
  /** "Remember this device": named by the row id, never the cookie's token. */
  deviceRemembered(who: Who & { device: number; until: number }): void {
    this.write('device-remembered', who, { device: who.device, until: who.until });
  }
  deviceForgotten(who: Who & { device?: number; count: number; reason: string }): void {
    this.write('device-forgotten', who, { ...(who.device !== undefined ? { device: who.device } : {}), count: who.count, reason: who.reason });
  }
  setupTokenIssued(): void {
    this.write('setup-token-issued', {});
  }
  setupCompleted(who: Who): void {
    this.write('setup-completed', who);
  }
  setupRejected(who: Who & { reason: string }): void {
    this.write('setup-rejected', who, { reason: who.reason });
  }
  // Second factors (src/twofactor): never a TOTP secret, a code or a hash of one.
  totpEnrollmentStarted(who: Who): void {
    this.write('totp-enrollment-started', who);
  }
  totpEnrolled(who: Who): void {
    this.write('totp-enrolled', who);
  }
  totpRemoved(who: Who & { by: string }): void {
    this.write('totp-removed', who, { by: who.by });
  }
  totpAccepted(who: Who): void {
    this.write('totp-accepted', who);
  }
  /** A new set of recovery codes; `replaced` unused old codes died with it. */
  recoveryCodesGenerated(who: Who & { by: string; count: number; replaced: number }): void {
    this.write('recovery-codes-generated', who, { by: who.by, count: who.count, replaced: who.replaced });
  }
  recoveryCodeUsed(who: Who & { remaining: number }): void {
    this.write('recovery-code-used', who, { remaining: who.remaining });
  }
  secondFactorFailed(
    who: Who & {
      method: 'totp' | 'recovery-code' | 'passkey';
      reason: 'invalid-code' | 'replayed-code' | 'malformed' | 'not-enrolled' | 'unknown-credential' | 'invalid' | 'counter-regression';
      passkey?: number;
    },
  ): void {
    this.write('second-factor-failed', who, { method: who.method, reason: who.reason, ...(who.passkey !== undefined ? { passkey: who.passkey } : {}) });
  }
  /** A second-factor attempt refused unchecked: the user's failures locked the step. */
  secondFactorThrottled(who: Who & { retryAfter: number }): void {
    this.write('second-factor-throttled', who, { retry_after: who.retryAfter });
  }
  secondFactorLocked(who: Who & { until: number; durationMs: number; count: number }): void {
    this.write('second-factor-locked', who, { until: who.until, duration_ms: who.durationMs, count: who.count });
  }
  /** Every second factor of a user removed (an administrator, the CLI, or the user turning it off). */
  secondFactorReset(who: Who & { by: string; totp: boolean; recoveryCodes: number; passkeys: number; sessionsRevoked: number }): void {
    this.write('second-factor-reset', who, { by: who.by, totp: who.totp, recovery_codes: who.recoveryCodes, passkeys: who.passkeys, sessions_revoked: who.sessionsRevoked });
  }
}
