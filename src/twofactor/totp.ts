// TOTP authenticators (RFC 6238 via otpauth: SHA-1, 6 digits, 30 s): enrollment in two
// steps (begin → confirm with a code), verification within ±1 step where every step is
// accepted once per user, removal. The secret is stored encrypted (secret-box.ts).

import type { Statement } from 'better-sqlite3';
import { Secret, TOTP } from 'otpauth';
import QRCode from 'qrcode';
import type { Audit } from '../audit/events.js';
import { durably, type Db } from '../db/connection.js';
import type { Clock } from '../lib/clock.js';
import { conflict } from '../lib/errors.js';
import type { SecondFactorLimiter, SecondFactorVerdict, Who } from './limiter.js';
import type { SecretBox } from './secret-box.js';

/** RFC 6238 defaults: what every authenticator app supports. */
const ALGORITHM = 'SHA1';
const DIGITS = 6;
const PERIOD_S = 30;
const STEP_MS = PERIOD_S * 1000;
/** Steps either side of now that are accepted (clock drift); at most 1 (NIST, RFC 6238 §5.2). */
const WINDOW = 1;
/** 160 bits, the HMAC-SHA-1 output size RFC 4226 recommends. */
const SECRET_BYTES = 20;
/** A begun enrollment must be confirmed within this time, else begun again. */
export const ENROLLMENT_LIFETIME_MS = 15 * 60_000;

export type TotpState = 'none' | 'pending' | 'active';

export interface Enrollment {
  /** The otpauth:// URI (holds the secret: show it to the user only, never log it). */
  uri: string;
  /** The URI as a QR code, an SVG document rendered here (no third-party service). */
  qrSvg: string;
  /** The secret in base32, for typing into an app by hand. */
  secret: string;
  expiresAt: number;
}

export type ConfirmResult = { ok: true } | { ok: false; reason: 'invalid' | 'expired' | 'not-pending' };

interface Row {
  user_id: number;
  secret_ciphertext: Buffer;
  secret_iv: Buffer;
  secret_tag: Buffer;
  created_at: number;
  confirmed_at: number | null;
  last_used_step: number | null;
}

/** Digits only; spaces and dashes (as apps group them) are allowed. Null when malformed. */
function normalizeCode(input: string): string | null {
  if (input.length > 32) return null;
  const code = input.replace(/[\s-]/g, '');
  return /^\d{6}$/.test(code) ? code : null;
}

export class TotpAuthenticators {
  private readonly sql: { get: Statement; begin: Statement; confirm: Statement; use: Statement; remove: Statement };

  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
    private readonly audit: Audit,
    private readonly box: SecretBox,
    private readonly limiter: SecondFactorLimiter,
    private readonly issuer = 'gatehouse',
  ) {
    this.sql = {
      get: db.prepare('SELECT * FROM totp_authenticators WHERE user_id = ?'),
      // Replaces a pending enrollment, never an active one (that would switch the factor off).
      begin: db.prepare(`INSERT INTO totp_authenticators (user_id, secret_ciphertext, secret_iv, secret_tag, created_at) VALUES (?, ?, ?, ?, ?)
        ON CONFLICT (user_id) DO UPDATE SET secret_ciphertext = excluded.secret_ciphertext, secret_iv = excluded.secret_iv,
          secret_tag = excluded.secret_tag, created_at = excluded.created_at
        WHERE totp_authenticators.confirmed_at IS NULL`),
      confirm: db.prepare('UPDATE totp_authenticators SET confirmed_at = ?, last_used_step = ? WHERE user_id = ? AND confirmed_at IS NULL AND created_at = ?'),
      use: db.prepare(`UPDATE totp_authenticators SET last_used_step = ?
        WHERE user_id = ? AND confirmed_at IS NOT NULL AND (last_used_step IS NULL OR last_used_step < ?)`),
      remove: db.prepare('DELETE FROM totp_authenticators WHERE user_id = ?'),
    };
  }

  /** 'pending' only while the enrollment can still be confirmed. */
  state(userId: number): TotpState {
    const row = this.row(userId);
    if (!row) return 'none';
    if (row.confirmed_at !== null) return 'active';
    return row.created_at + ENROLLMENT_LIFETIME_MS > this.clock.now() ? 'pending' : 'none';
  }

  /** Starts (or restarts) enrollment with a new secret. 409 while one is active: remove it first. */
  async begin(user: Who, ip: string | null = null): Promise<Enrollment> {
    if (this.row(user.id)?.confirmed_at) throw conflict('totp-already-enrolled', 'An authenticator app is already set up; remove it first.');
    const secret = new Secret({ size: SECRET_BYTES });
    const uri = this.totp(secret, user.username).toString();
    const qrSvg = await QRCode.toString(uri, { type: 'svg', errorCorrectionLevel: 'M', margin: 2 });
    const sealed = this.box.seal(secret.bytes, user.id);
    const now = this.clock.now();
    const changed = this.sql.begin.run(user.id, sealed.ciphertext, sealed.iv, sealed.tag, now).changes;
    if (changed === 0) throw conflict('totp-already-enrolled', 'An authenticator app is already set up; remove it first.');
    this.audit.totpEnrollmentStarted({ userId: user.id, username: user.username, ip });
    return { uri, qrSvg, secret: secret.base32, expiresAt: now + ENROLLMENT_LIFETIME_MS };
  }

  /** Activates a pending enrollment with a current code from the app; that code is then used up. */
  confirm(user: Who, input: string, ip: string | null = null): ConfirmResult {
    return durably(this.db, () =>
      this.db
        .transaction((): ConfirmResult => {
          const row = this.row(user.id);
          if (!row || row.confirmed_at !== null) return { ok: false, reason: 'not-pending' };
          const now = this.clock.now();
          if (row.created_at + ENROLLMENT_LIFETIME_MS <= now) return { ok: false, reason: 'expired' };
          const code = normalizeCode(input);
          const step = code === null ? undefined : this.matchingSteps(row, code, now)[0];
          if (step === undefined) return { ok: false, reason: 'invalid' };
          this.sql.confirm.run(now, step, user.id, row.created_at);
          this.audit.totpEnrolled({ userId: user.id, username: user.username, ip });
          return { ok: true };
        })
        .immediate(),
    );
  }

  /**
   * Checks a code at sign-in, throttled per user (see limiter.ts). A code is accepted for a
   * time step later than the last accepted one only: a replayed or older code is refused.
   * Throws (fails closed, nothing counted) when the stored secret cannot be decrypted.
   */
  verify(user: Who, input: string, ip: string | null): SecondFactorVerdict {
    const who = { userId: user.id, username: user.username, ip };
    return this.limiter.attempt(user, ip, () => {
      const row = this.row(user.id);
      if (!row || row.confirmed_at === null) {
        this.audit.secondFactorFailed({ ...who, method: 'totp', reason: 'not-enrolled' });
        return { ok: false, reason: 'invalid' };
      }
      const code = normalizeCode(input);
      if (code === null) {
        this.audit.secondFactorFailed({ ...who, method: 'totp', reason: 'malformed' });
        return { ok: false, reason: 'invalid' };
      }
      const steps = this.matchingSteps(row, code, this.clock.now());
      const fresh = steps.find((s) => row.last_used_step === null || s > row.last_used_step);
      if (fresh === undefined || this.sql.use.run(fresh, user.id, fresh).changes !== 1) {
        this.audit.secondFactorFailed({ ...who, method: 'totp', reason: steps.length > 0 ? 'replayed-code' : 'invalid-code' });
        return { ok: false, reason: 'invalid' };
      }
      this.audit.totpAccepted(who);
      return { ok: true, method: 'totp' };
    });
  }

  /** Removes the authenticator (active or pending); false when there was none. */
  remove(user: Who, by: string, ip: string | null = null): boolean {
    return durably(this.db, () =>
      this.db.transaction(() => {
        const wasActive = this.row(user.id)?.confirmed_at != null;
        const changes = this.sql.remove.run(user.id).changes;
        if (wasActive) this.audit.totpRemoved({ userId: user.id, username: user.username, ip, by });
        return changes > 0;
      })(),
    );
  }

  private row(userId: number): Row | undefined {
    return this.sql.get.get(userId) as Row | undefined;
  }

  private totp(secret: Secret, username: string): TOTP {
    return new TOTP({ issuer: this.issuer, label: username, secret, algorithm: ALGORITHM, digits: DIGITS, period: PERIOD_S });
  }

  /** The time steps within the window (oldest first) for which `code` is right. */
  private matchingSteps(row: Row, code: string, now: number): number[] {
    const bytes = this.box.open({ ciphertext: row.secret_ciphertext, iv: row.secret_iv, tag: row.secret_tag }, row.user_id);
    const totp = this.totp(new Secret({ buffer: Uint8Array.from(bytes).buffer }), 'verify');
    bytes.fill(0);
    const current = Math.floor(now / STEP_MS);
    const steps: number[] = [];
    for (let step = current - WINDOW; step <= current + WINDOW; step++) {
      // window 0 at the step's own timestamp: otpauth compares in constant time.
      if (totp.validate({ token: code, timestamp: step * STEP_MS, window: 0 }) !== null) steps.push(step);
    }
    return steps;
  }
}
