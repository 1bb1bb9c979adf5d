// First-run setup: with no users, a random, single-use, expiring token lets the first
// administrator be created in the browser. There is never a default account.

import type { Db } from '../db/connection.js';
import type { Clock } from '../lib/clock.js';
import { randomToken, sha256Hex } from '../lib/crypto.js';

export type SetupTokenState = 'valid' | 'invalid' | 'expired' | 'used' | 'setup-complete';

export class SetupTokens {
  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
    private readonly lifetimeMs: number,
  ) {}

  private usersExist(): boolean {
    return this.db.prepare('SELECT EXISTS (SELECT 1 FROM users)').pluck().get() === 1;
  }

  /** A fresh token when no user exists yet (older unused tokens stop working), else null. */
  issueIfNeeded(): { token: string; expiresAt: number } | null {
    if (this.usersExist()) return null;
    const token = randomToken(32);
    const now = this.clock.now();
    const expiresAt = now + this.lifetimeMs;
    this.db.transaction(() => {
      this.db.prepare('DELETE FROM setup_tokens WHERE used_at IS NULL').run();
      this.db.prepare('INSERT INTO setup_tokens (token_hash, created_at, expires_at) VALUES (?, ?, ?)').run(sha256Hex(token), now, expiresAt);
    })();
    return { token, expiresAt };
  }

  check(token: string): SetupTokenState {
    if (this.usersExist()) return 'setup-complete';
    if (!/^[A-Za-z0-9_-]{20,100}$/.test(token)) return 'invalid';
    const row = this.db.prepare('SELECT expires_at, used_at FROM setup_tokens WHERE token_hash = ?').get(sha256Hex(token)) as
      | { expires_at: number; used_at: number | null }
      | undefined;
    if (!row) return 'invalid';
    if (row.used_at !== null) return 'used';
    return row.expires_at <= this.clock.now() ? 'expired' : 'valid';
  }

  /**
   * Marks the token used; call inside the transaction that creates the first user, so a
   * second request racing with the same token cannot create a second administrator.
   */
  consume(token: string): boolean {
    const now = this.clock.now();
    const result = this.db
      .prepare(
        `UPDATE setup_tokens SET used_at = ?
         WHERE token_hash = ? AND used_at IS NULL AND expires_at > ? AND NOT EXISTS (SELECT 1 FROM users)`,
      )
      .run(now, sha256Hex(token), now);
    return result.changes === 1;
  }
}
