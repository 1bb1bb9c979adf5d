// Personal API tokens: created by a signed-in user, shown once, stored as SHA-256, scoped
// (read < write < admin), expiring, revocable, with last use tracked (coalesced writes).

import type { Statement } from 'better-sqlite3';
import { LRUCache } from 'lru-cache';
import type { Audit } from '../audit/events.js';
import { durably, type Db } from '../db/connection.js';
import { ExternalChanges } from '../db/change-watcher.js';
import type { Clock } from '../lib/clock.js';
import { randomToken, sha256Hex } from '../lib/crypto.js';
import { badRequest, notFound } from '../lib/errors.js';
import { INVISIBLE } from '../users/username.js';

export const TOKEN_SCOPES = ['read', 'write', 'admin'] as const;
export type TokenScope = (typeof TOKEN_SCOPES)[number];

/** Every token starts with this, so secret scanners and people can recognise one. */
export const TOKEN_PREFIX = 'gth_';
/** 32 random bytes: 256 bits, base64url. */
const TOKEN_SHAPE = /^gth_[A-Za-z0-9_-]{43}$/;
const HINT_LENGTH = TOKEN_PREFIX.length + 6;
const DAY = 86_400_000;
export const TOKEN_MAX_LIFETIME_MS = 366 * DAY;
export const MAX_TOKENS_PER_USER = 50;
/** Last use is written at most this often per token (the forward-auth path uses tokens too). */
const LAST_USED_INTERVAL_MS = 60_000;

/** read: look; write: change your own account; admin: the admin API (admins only). */
export function scopeAllows(granted: TokenScope, needed: TokenScope): boolean {
  return TOKEN_SCOPES.indexOf(granted) >= TOKEN_SCOPES.indexOf(needed);
}

/** A token as shown to its owner (never the secret or its hash). */
export interface TokenInfo {
  id: number;
  userId: number;
  name: string;
  hint: string;
  scope: TokenScope;
  createdAt: number;
  expiresAt: number;
  lastUsedAt: number | null;
  lastUsedIp: string | null;
  revokedAt: number | null;
}

interface TokenRow {
  id: number;
  user_id: number;
  name: string;
  token_hash: string;
  hint: string;
  scope: TokenScope;
  created_at: number;
  expires_at: number;
  last_used_at: number | null;
  last_used_ip: string | null;
  revoked_at: number | null;
}

const toInfo = (r: TokenRow): TokenInfo => ({
  id: r.id,
  userId: r.user_id,
  name: r.name,
  hint: r.hint,
  scope: r.scope,
  createdAt: r.created_at,
  expiresAt: r.expires_at,
  lastUsedAt: r.last_used_at,
  lastUsedIp: r.last_used_ip,
  revokedAt: r.revoked_at,
});

export class ApiTokens {
  private readonly byHash: Statement;
  private readonly markUsed: Statement;
  /** Live tokens by hash; a revocation here evicts, one by another process clears all. */
  private readonly cache = new LRUCache<string, TokenRow>({ max: 1000 });

  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
    private readonly audit: Audit,
    private readonly changes: ExternalChanges = new ExternalChanges(db),
  ) {
    this.byHash = db.prepare('SELECT * FROM api_tokens WHERE token_hash = ?');
    this.markUsed = db.prepare('UPDATE api_tokens SET last_used_at = ?, last_used_ip = ? WHERE id = ?');
    changes.subscribe(() => this.cache.clear());
  }

  /**
   * Creates a token; the secret is returned here once and never stored. `ip`: the address it
   * was created from, for the audit entry (the HTTP callers always pass it).
   */
  create(input: { userId: number; username: string; name: string; scope: TokenScope; lifetimeMs: number; by: string; ip?: string | null }): { token: string; info: TokenInfo } {
    const name = input.name.trim();
    if (name.length < 1 || name.length > 64 || INVISIBLE.test(name)) {
      throw badRequest('invalid-token-name', 'Name the token with 1 to 64 characters, without control or invisible characters.');
    }
    if (!TOKEN_SCOPES.includes(input.scope)) throw badRequest('invalid-scope', 'The scope must be read, write or admin.');
    if (!Number.isInteger(input.lifetimeMs) || input.lifetimeMs < DAY || input.lifetimeMs > TOKEN_MAX_LIFETIME_MS) {
      throw badRequest('invalid-lifetime', 'A token lives between 1 and 366 days.');
    }
    const now = this.clock.now();
    const live = this.db
      .prepare('SELECT count(*) FROM api_tokens WHERE user_id = ? AND revoked_at IS NULL AND expires_at > ?')
      .pluck()
      .get(input.userId, now) as number;
    if (live >= MAX_TOKENS_PER_USER) throw badRequest('too-many-tokens', `You have ${MAX_TOKENS_PER_USER} live tokens; revoke one first.`);
    const token = `${TOKEN_PREFIX}${randomToken(32)}`;
    const row = this.db
      .prepare(
        `INSERT INTO api_tokens (user_id, name, token_hash, hint, scope, created_at, expires_at)
         VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING *`,
      )
      .get(input.userId, name, sha256Hex(token), token.slice(0, HINT_LENGTH), input.scope, now, now + input.lifetimeMs) as TokenRow;
    this.audit.tokenCreated({ userId: input.userId, username: input.username, ip: input.ip ?? null, token: row.id, scope: row.scope, expiresAt: row.expires_at, by: input.by });
    return { token, info: toInfo(row) };
  }

  /** A user's tokens, newest first, including revoked and expired ones (for the page). */
  list(userId: number): TokenInfo[] {
    return (this.db.prepare('SELECT * FROM api_tokens WHERE user_id = ? ORDER BY id DESC').all(userId) as TokenRow[]).map(toInfo);
  }

  /** Revokes one of a user's tokens; 404 when it is not theirs (no probing of others' ids). */
  revoke(userId: number, id: number, by: string): TokenInfo {
    // Fsynced: a revocation lost to a power cut would bring the token back.
    const row = durably(this.db, () =>
      this.db
        .prepare('UPDATE api_tokens SET revoked_at = ?, revoked_by = ? WHERE id = ? AND user_id = ? AND revoked_at IS NULL RETURNING *')
        .get(this.clock.now(), by, id, userId),
    ) as TokenRow | undefined;
    if (!row) {
      const exists = this.db.prepare('SELECT * FROM api_tokens WHERE id = ? AND user_id = ?').get(id, userId) as TokenRow | undefined;
      if (!exists) throw notFound('token-not-found', 'There is no such token.');
      return toInfo(exists); // already revoked: nothing to do
    }
    this.cache.delete(row.token_hash);
    this.audit.tokenRevoked({ userId, token: id, by });
    return toInfo(row);
  }

  /**
   * Revokes every live token of a user (their password was changed or reset: whoever may
   * have made a token with the old one loses it too). Returns how many.
   */
  revokeAllOf(userId: number, by: string): number {
    const rows = durably(this.db, () =>
      this.db
        .prepare('UPDATE api_tokens SET revoked_at = ?, revoked_by = ? WHERE user_id = ? AND revoked_at IS NULL AND expires_at > ? RETURNING id, token_hash')
        .all(this.clock.now(), by, userId, this.clock.now()),
    ) as Array<{ id: number; token_hash: string }>;
    for (const r of rows) {
      this.cache.delete(r.token_hash);
      this.audit.tokenRevoked({ userId, token: r.id, by });
    }
    return rows.length;
  }

  /**
   * The live token for a bearer value, or null (malformed, unknown, revoked, expired).
   * Records the use, written at most once a minute.
   */
  authenticate(bearer: string, ip: string): TokenInfo | null {
    if (!TOKEN_SHAPE.test(bearer)) return null;
    this.changes.poll();
    const hash = sha256Hex(bearer);
    let row = this.cache.get(hash);
    if (!row) {
      row = this.byHash.get(hash) as TokenRow | undefined;
      if (!row || row.revoked_at !== null) return null;
      this.cache.set(hash, row);
    }
    const now = this.clock.now();
    if (row.expires_at <= now) {
      this.cache.delete(hash);
      return null;
    }
    // Written at most once a minute (a token can come from two addresses in turn; that must
    // not turn every forward-auth check into a write); the address is the latest one seen.
    if (row.last_used_at === null || now - row.last_used_at >= LAST_USED_INTERVAL_MS) {
      row.last_used_at = now;
      row.last_used_ip = ip;
      this.markUsed.run(now, ip, row.id);
    }
    return toInfo(row);
  }
}
