// SQL for the users table: the only place that reads or writes it.

import { ExternalChanges } from '../db/change-watcher.js';
import type { Db } from '../db/connection.js';
import { ADMIN_GROUP } from './groups.js';

export interface User {
  id: number;
  username: string;
  displayName: string;
  email: string | null;
  groups: string[];
  disabled: boolean;
  mustChangePassword: boolean;
  createdAt: number;
  passwordChangedAt: number;
  lastLoginAt: number | null;
  /** Set when the user asked for their account to be deleted (an administrator confirms). */
  deletionRequestedAt: number | null;
}

interface UserRow {
  id: number;
  username: string;
  display_name: string;
  email: string | null;
  password_hash: string;
  groups: string;
  disabled: number;
  must_change_password: number;
  created_at: number;
  password_changed_at: number;
  last_login_at: number | null;
  deletion_requested_at: number | null;
}

const toUser = (r: UserRow): User => ({
  id: r.id,
  username: r.username,
  displayName: r.display_name,
  email: r.email,
  groups: JSON.parse(r.groups) as string[],
  disabled: r.disabled === 1,
  mustChangePassword: r.must_change_password === 1,
  createdAt: r.created_at,
  passwordChangedAt: r.password_changed_at,
  lastLoginAt: r.last_login_at,
  deletionRequestedAt: r.deletion_requested_at,
});

const CACHE_MAX = 10_000;

export class UserRepository {
  /** Hot look-ups are prepared once: every page and forward-auth check reloads its user. */
  private readonly byId;
  private readonly byName;
  /**
   * Users by id, for the forward-auth hot path. Every write here forgets the user; a write
   * by another process (the CLI) forgets them all (ExternalChanges).
   */
  private readonly cache = new Map<number, User>();

  constructor(
    private readonly db: Db,
    private readonly changes: ExternalChanges = new ExternalChanges(db),
  ) {
    this.byId = db.prepare('SELECT * FROM users WHERE id = ?');
    this.byName = db.prepare('SELECT * FROM users WHERE username = ?');
    changes.subscribe(() => this.cache.clear());
  }

  count(): number {
    return this.db.prepare('SELECT count(*) FROM users').pluck().get() as number;
  }

  /** The user (read-only, shared) for an id; served from memory when cached. */
  findById(id: number): Readonly<User> | null {
    this.changes.poll();
    const cached = this.cache.get(id);
    if (cached) return cached;
    const row = this.byId.get(id) as UserRow | undefined;
    if (!row) return null;
    const user = toUser(row);
    Object.freeze(user.groups);
    if (this.cache.size >= CACHE_MAX) this.cache.delete(this.cache.keys().next().value as number);
    this.cache.set(id, Object.freeze(user));
    return user;
  }

  /** `username` must already be normalized. */
  findByUsername(username: string): User | null {
    const row = this.byName.get(username) as UserRow | undefined;
    return row ? toUser(row) : null;
  }

  /** The user with the stored password hash, for sign-in only. */
  findCredentials(username: string): { user: User; passwordHash: string } | null {
    const row = this.byName.get(username) as UserRow | undefined;
    return row ? { user: toUser(row), passwordHash: row.password_hash } : null;
  }

  list(): User[] {
    return (this.db.prepare('SELECT * FROM users ORDER BY username').all() as UserRow[]).map(toUser);
  }

  insert(u: { username: string; displayName: string; email: string | null; passwordHash: string; groups: string[]; now: number }): User {
    const row = this.db
      .prepare(
        `INSERT INTO users (username, display_name, email, password_hash, groups, created_at, updated_at, password_changed_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING *`,
      )
      .get(u.username, u.displayName, u.email, u.passwordHash, JSON.stringify(u.groups), u.now, u.now, u.now) as UserRow;
    return toUser(row);
  }

  /** `mustChange`: an administrator set it, so the user must choose their own at next sign-in. */
  /**
   * A new password (`changed: true`), or the same password re-hashed with stronger
   * parameters (`changed: false`), which replaces only the hash it was verified against: a
   * password change committed while the re-hash ran must not be undone. Returns whether
   * the row changed.
   */
  setPasswordHash(id: number, hash: string, now: number, options: { changed: true; mustChange?: boolean } | { changed: false; replacing: string }): boolean {
    this.cache.delete(id);
    if (options.changed) {
      return (
        this.db
          .prepare('UPDATE users SET password_hash = ?, password_changed_at = ?, must_change_password = ?, updated_at = ? WHERE id = ?')
          .run(hash, now, options.mustChange ? 1 : 0, now, id).changes > 0
      );
    }
    return this.db.prepare('UPDATE users SET password_hash = ? WHERE id = ? AND password_hash = ?').run(hash, id, options.replacing).changes > 0;
  }

  /** The stored hash, for confirming a signed-in user's password. */
  passwordHash(id: number): string | null {
    return (this.db.prepare('SELECT password_hash FROM users WHERE id = ?').pluck().get(id) as string | undefined) ?? null;
  }

  update(id: number, changes: { displayName?: string; email?: string | null; groups?: string[] }, now: number): void {
    this.cache.delete(id);
    const sets: string[] = [];
    const params: Record<string, unknown> = { id, now };
    if (changes.displayName !== undefined) {
      sets.push('display_name = @displayName');
      params.displayName = changes.displayName;
    }
    if (changes.email !== undefined) {
      sets.push('email = @email');
      params.email = changes.email;
    }
    if (changes.groups !== undefined) {
      sets.push('groups = @groups');
      params.groups = JSON.stringify(changes.groups);
    }
    if (!sets.length) return;
    this.db.prepare(`UPDATE users SET ${sets.join(', ')}, updated_at = @now WHERE id = @id`).run(params);
  }

  setDeletionRequested(id: number, at: number | null): void {
    this.cache.delete(id);
    this.db.prepare('UPDATE users SET deletion_requested_at = ? WHERE id = ?').run(at, id);
  }

  /** Enabled members of the administrators' group. */
  countEnabledAdmins(): number {
    return this.db.prepare('SELECT count(*) FROM users WHERE disabled = 0 AND EXISTS (SELECT 1 FROM json_each(groups) WHERE value = ?)').pluck().get(ADMIN_GROUP) as number;
  }

  setDisabled(id: number, disabled: boolean, now: number): void {
    this.cache.delete(id);
    this.db.prepare('UPDATE users SET disabled = ?, updated_at = ? WHERE id = ?').run(disabled ? 1 : 0, now, id);
  }

  recordLogin(id: number, now: number): void {
    this.cache.delete(id);
    this.db.prepare('UPDATE users SET last_login_at = ? WHERE id = ?').run(now, id);
  }

  delete(id: number): void {
    this.cache.delete(id);
    this.db.prepare('DELETE FROM users WHERE id = ?').run(id);
  }
}
