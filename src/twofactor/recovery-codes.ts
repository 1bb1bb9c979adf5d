// Recovery codes: ten single-use codes per user (xxxxx-xxxxx, 50 random bits each), shown
// once when generated, stored as keyed hashes; a new set kills the old one.

import { randomInt } from 'node:crypto';
import type { Statement } from 'better-sqlite3';
import type { Audit } from '../audit/events.js';
import { durably, type Db } from '../db/connection.js';
import type { Clock } from '../lib/clock.js';
import type { SecondFactorLimiter, SecondFactorVerdict, Who } from './limiter.js';
import type { SecretBox } from './secret-box.js';

export const RECOVERY_CODE_COUNT = 10;
/** Crockford's base32: no i, l, o, u, so nothing reads as another character (5 bits each). */
const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz';
const LENGTH = 10;

/**
 * The canonical form of a typed code: case, spaces and dashes do not matter, and the
 * letters people confuse with digits are read as those digits. Null when malformed.
 */
export function normalizeRecoveryCode(input: string): string | null {
  if (input.length > 64) return null;
  const code = input
    .toLowerCase()
    .replace(/[\s-]/g, '')
    .replace(/o/g, '0')
    .replace(/[il]/g, '1');
  return code.length === LENGTH && [...code].every((c) => ALPHABET.includes(c)) ? code : null;
}

function newCode(): string {
  let code = '';
  for (let i = 0; i < LENGTH; i++) code += ALPHABET[randomInt(ALPHABET.length)];
  return `${code.slice(0, 5)}-${code.slice(5)}`;
}

export class RecoveryCodes {
  private readonly sql: { insert: Statement; deleteAll: Statement; use: Statement; remaining: Statement };

  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
    private readonly audit: Audit,
    private readonly box: SecretBox,
    private readonly limiter: SecondFactorLimiter,
  ) {
    this.sql = {
      insert: db.prepare('INSERT INTO recovery_codes (user_id, code_hash, created_at) VALUES (?, ?, ?)'),
      deleteAll: db.prepare('DELETE FROM recovery_codes WHERE user_id = ?'),
      use: db.prepare('UPDATE recovery_codes SET used_at = ? WHERE user_id = ? AND code_hash = ? AND used_at IS NULL'),
      remaining: db.prepare('SELECT count(*) FROM recovery_codes WHERE user_id = ? AND used_at IS NULL').pluck(),
    };
  }

  /** A new set of codes, returned here once (show them, never store or log them); the old set dies. */
  generate(user: Who, by: string, ip: string | null = null): string[] {
    const codes = Array.from({ length: RECOVERY_CODE_COUNT }, newCode);
    // Fsynced: a regeneration lost to a power cut would bring the old codes back.
    durably(this.db, () =>
      this.db.transaction(() => {
        const replaced = this.remaining(user.id);
        this.sql.deleteAll.run(user.id);
        const now = this.clock.now();
        for (const code of codes) this.sql.insert.run(user.id, this.hash(code, user.id), now);
        this.audit.recoveryCodesGenerated({ userId: user.id, username: user.username, ip, by, count: codes.length, replaced });
      })(),
    );
    return codes;
  }

  /** Uses up a code at sign-in, throttled per user together with TOTP codes (limiter.ts). */
  consume(user: Who, input: string, ip: string | null): SecondFactorVerdict {
    const who = { userId: user.id, username: user.username, ip };
    return this.limiter.attempt(
      user,
      ip,
      () => {
        const code = normalizeRecoveryCode(input);
        if (code === null) {
          this.audit.secondFactorFailed({ ...who, method: 'recovery-code', reason: 'malformed' });
          return { ok: false, reason: 'invalid' };
        }
        // The update is the check: one statement, so a code can be used only once.
        if (this.sql.use.run(this.clock.now(), user.id, this.hash(code, user.id)).changes !== 1) {
          this.audit.secondFactorFailed({ ...who, method: 'recovery-code', reason: 'invalid-code' });
          return { ok: false, reason: 'invalid' };
        }
        const remaining = this.remaining(user.id);
        this.audit.recoveryCodeUsed({ ...who, remaining });
        return { ok: true, method: 'recovery-code', remaining };
      },
      { durable: true },
    );
  }

  /** Unused codes left. */
  remaining(userId: number): number {
    return this.sql.remaining.get(userId) as number;
  }

  /** Deletes every code of a user (reset); returns how many were unused. */
  removeAll(userId: number): number {
    const unused = this.remaining(userId);
    this.sql.deleteAll.run(userId);
    return unused;
  }

  private hash(code: string, userId: number): string {
    const canonical = normalizeRecoveryCode(code);
    if (canonical === null) throw new RangeError('not a recovery code');
    return this.box.recoveryCodeHash(canonical, userId);
  }
}
