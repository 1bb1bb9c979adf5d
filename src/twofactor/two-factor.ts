// A user's second factors in one place: whether they have one, checking a code at sign-in
// (TOTP or recovery code, by its shape), and resetting everything (administrators, CLI).

import type { Audit } from '../audit/events.js';
import { durably, type Db } from '../db/connection.js';
import type { Clock } from '../lib/clock.js';
import { Passkeys, type Passkey } from './passkeys.js';
import { SecondFactorLimiter, type LimiterSettings, type SecondFactorVerdict, type Who } from './limiter.js';
import { RecoveryCodes, normalizeRecoveryCode } from './recovery-codes.js';
import { RememberedDevices } from './remembered-devices.js';
import { SecretBox } from './secret-box.js';
import { TotpAuthenticators, type TotpState } from './totp.js';

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
   * Removes every second factor of a user: the authenticator (active or pending), the
   * passkeys, the recovery codes and the failure counter. For an administrator or the CLI when a phone is
   * lost, or the user turning two-factor sign-in off. Audited; fsynced.
   */
  reset(user: Who, by: string, ip: string | null = null): { totp: boolean; recoveryCodes: number; passkeys: number } {
    return durably(this.db, () =>
      this.db.transaction(() => {
        const totp = this.totp.remove(user, by, ip);
        const recoveryCodes = this.recoveryCodes.removeAll(user.id);
        const passkeys = this.passkeys.removeAll(user.id);
        this.limiter.clear(user.id);
        // A remembered browser skips the second step: with the factors gone, it goes too.
        this.devices.revokeAll(user.id, 'second-factor-reset');
        this.audit.secondFactorReset({ userId: user.id, username: user.username, ip, by, totp, recoveryCodes });
        return { totp, recoveryCodes, passkeys };
      })(),
    );
  }
}
