// A user's second factors in one place: whether they have one, checking a code at sign-in
// (TOTP or recovery code, by its shape), enrolling (the first factor ends the user's other
// sessions) and resetting everything (administrators, CLI: ends the user's sessions).

import type { Audit } from '../audit/events.js';
import { durably, type Db } from '../db/connection.js';
import type { Clock } from '../lib/clock.js';
import type { Sessions } from '../sessions/sessions.js';
import type { RegistrationResponseJSON } from '@simplewebauthn/server';
import { Passkeys, type Passkey, type RelyingParty } from './passkeys.js';
import { SecondFactorLimiter, type LimiterSettings, type SecondFactorVerdict, type Who } from './limiter.js';
import { RecoveryCodes, normalizeRecoveryCode } from './recovery-codes.js';
import { RememberedDevices } from './remembered-devices.js';
import { SecretBox } from './secret-box.js';
import { TotpAuthenticators, type ConfirmResult, type TotpState } from './totp.js';

export interface TwoFactorStatus {
  /** An active (confirmed) authenticator: sign-in must ask for a second factor. */
  enabled: boolean;
  totp: TotpState;
  recoveryCodesRemaining: number;
  /** Registered passkeys (WebAuthn credentials), oldest first; one alone turns the second step on. */
  passkeys: Passkey[];
  /** The end of a running lock after too many wrong codes, else null. */
  lockedUntil: number | null;
}

/** A factor was added: whether it was the account's first, and how many other sessions that ended. */
export interface FactorAdded {
  first: boolean;
  sessionsRevoked: number;
}

export class TwoFactor {
  readonly limiter: SecondFactorLimiter;
  readonly totp: TotpAuthenticators;
  readonly recoveryCodes: RecoveryCodes;
  readonly passkeys: Passkeys;
  /** Browsers remembered to skip the second step ("remember this device"). */
  readonly devices: RememberedDevices;

  /** `key`: secrets.json's twoFactorKey; `settings`: config.throttle; `issuer`: the name apps show. */
  constructor(
    private readonly db: Db,
    clock: Clock,
    private readonly audit: Audit,
    private readonly sessions: Pick<Sessions, 'revokeUserSessions'>,
    key: string,
    settings: LimiterSettings,
    issuer = 'gatehouse',
  ) {
    const box = new SecretBox(key);
    this.limiter = new SecondFactorLimiter(db, clock, audit, settings);
    this.totp = new TotpAuthenticators(db, clock, audit, box, this.limiter, issuer);
    this.recoveryCodes = new RecoveryCodes(db, clock, audit, box, this.limiter);
    this.passkeys = new Passkeys(db, clock, audit, issuer);
    this.devices = new RememberedDevices(db, clock, audit);
  }

  /** Whether sign-in must ask this user for a second factor (a pending enrollment does not count). */
  isEnabled(userId: number): boolean {
    return this.totp.state(userId) === 'active' || this.passkeys.count(userId) > 0;
  }

  status(userId: number): TwoFactorStatus {
    const totp = this.totp.state(userId);
    const passkeys = this.passkeys.list(userId);
    return {
      enabled: totp === 'active' || passkeys.length > 0,
      passkeys,
      totp,
      recoveryCodesRemaining: this.recoveryCodes.remaining(userId),
      lockedUntil: this.limiter.state(userId).lockedUntil,
    };
  }

  /**
   * Checks what the user typed at the second-factor step: six digits are a TOTP code,
   * anything shaped like a recovery code is one. Both count on the same per-user limit.
   */
  verify(user: Who, input: string, ip: string | null): SecondFactorVerdict {
    return normalizeRecoveryCode(input) !== null ? this.recoveryCodes.consume(user, input, ip) : this.totp.verify(user, input, ip);
  }

  /**
   * Activates the user's pending authenticator app with a code from it. When that is the
   * account's first factor, every other session of the user ends (reason
   * `second-factor-enrolled`): a session signed in with the password alone, before the
   * factor existed, must not stay to manage or take over the new factor. `keepSid`: the
   * session enrolling (it proved the factor just now). One transaction.
   */
  confirmTotp(user: Who, code: string, ip: string | null, keepSid: string | null): (ConfirmResult & { ok: false }) | ({ ok: true } & FactorAdded) {
    return this.enrolling(user, keepSid, () => this.totp.confirm(user, code, ip));
  }

  /** Registers a passkey (see Passkeys.register); the first factor ends the other sessions, as confirmTotp. */
  async registerPasskey(
    user: Who,
    response: RegistrationResponseJSON,
    challenge: string,
    rp: RelyingParty,
    name: string,
    ip: string | null,
    keepSid: string | null,
  ): Promise<(FactorAdded & { passkey: Passkey }) | null> {
    let added: FactorAdded = { first: false, sessionsRevoked: 0 };
    // Verification is asynchronous; the check for "first" runs in the insert's transaction.
    const passkey = await this.passkeys.register(user, response, challenge, rp, name, ip, () => {
      added = this.endSessionsIfFirst(user, keepSid, this.totp.state(user.id) !== 'active' && this.passkeys.count(user.id) === 1);
    });
    return passkey ? { passkey, ...added } : null;
  }

  /**
   * Removes every second factor of a user: the authenticator (active or pending), the
   * passkeys, the recovery codes, the failure counter and the remembered devices. For an
   * administrator or the CLI when a phone is lost (`endSessions`, the default: every session
   * of the user ends, reason `second-factor-reset`, but `exceptSid`), or the user turning
   * two-factor sign-in off (`endSessions: false`; the page offers to end the others).
   * Audited; fsynced.
   */
  reset(
    user: Who,
    by: string,
    ip: string | null = null,
    options: { endSessions?: boolean; exceptSid?: string } = {},
  ): { totp: boolean; recoveryCodes: number; passkeys: number; sessionsRevoked: number } {
    return durably(this.db, () =>
      this.db.transaction(() => {
        const totp = this.totp.remove(user, by, ip);
        const recoveryCodes = this.recoveryCodes.removeAll(user.id);
        const passkeys = this.passkeys.removeAll(user.id);
        this.limiter.clear(user.id);
        // A remembered browser skips the second step: with the factors gone, it goes too.
        this.devices.revokeAll(user.id, 'second-factor-reset');
        const sessionsRevoked =
          options.endSessions === false ? 0 : this.sessions.revokeUserSessions(user.id, 'second-factor-reset', { by, ...(options.exceptSid ? { exceptSid: options.exceptSid } : {}) });
        this.audit.secondFactorReset({ userId: user.id, username: user.username, ip, by, totp, recoveryCodes, passkeys, sessionsRevoked });
        return { totp, recoveryCodes, passkeys, sessionsRevoked };
      })(),
    );
  }

  /** Runs an enrollment step in one (immediate) transaction with the check whether it gave the account its first factor. */
  private enrolling<T extends { ok: boolean }>(user: Who, keepSid: string | null, enroll: () => T): (T & { ok: false }) | ({ ok: true } & FactorAdded) {
    return durably(this.db, () =>
      this.db
        .transaction(() => {
          const before = this.isEnabled(user.id);
          const result = enroll();
          if (!result.ok) return result as T & { ok: false };
          return { ok: true as const, ...this.endSessionsIfFirst(user, keepSid, !before && this.isEnabled(user.id)) };
        })
        .immediate(),
    );
  }

  private endSessionsIfFirst(user: Who, keepSid: string | null, first: boolean): FactorAdded {
    if (!first) return { first, sessionsRevoked: 0 };
    const sessionsRevoked = this.sessions.revokeUserSessions(user.id, 'second-factor-enrolled', { by: `user:${user.username}`, ...(keepSid ? { exceptSid: keepSid } : {}) });
    return { first, sessionsRevoked };
  }
}
