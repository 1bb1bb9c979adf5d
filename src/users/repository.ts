// SQL for the users table: the only place that reads or writes it.

import type { Db } from '../db/connection.js';

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
});

export class UserRepository {
  /** Hot look-ups are prepared once: every page and forward-auth check reloads its user. */
  private readonly byId;
  private readonly byName;

  constructor(private readonly db: Db) {
    this.byId = db.prepare('SELECT * FROM users WHERE id = ?');
    this.byName = db.prepare('SELECT * FROM users WHERE username = ?');
  }

  count(): number {
    return this.db.prepare('SELECT count(*) FROM users').pluck().get() as number;
  }

  findById(id: number): User | null {
    const row = this.byId.get(id) as UserRow | undefined;
    return row ? toUser(row) : null;
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

  setPasswordHash(id: number, hash: string, now: number, options: { changed: boolean }): void {
    if (options.changed) {
      this.db
        .prepare('UPDATE users SET password_hash = ?, password_changed_at = ?, must_change_password = 0, updated_at = ? WHERE id = ?')
        .run(hash, now, now, id);
    } else {
      // Same password, stronger parameters: not a password change.
      this.db.prepare('UPDATE users SET password_hash = ? WHERE id = ?').run(hash, id);
    }
  }

  setDisabled(id: number, disabled: boolean, now: number): void {
    this.db.prepare('UPDATE users SET disabled = ?, updated_at = ? WHERE id = ?').run(disabled ? 1 : 0, now, id);
  }

  recordLogin(id: number, now: number): void {
    this.db.prepare('UPDATE users SET last_login_at = ? WHERE id = ?').run(now, id);
  }

  delete(id: number): void {
    this.db.prepare('DELETE FROM users WHERE id = ?').run(id);
  }
}
