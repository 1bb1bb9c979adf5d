// Account operations shared by the setup page, the CLI and (later) the admin pages:
// create, change password, disable, enable, delete, and credential checks for sign-in.

import type { Audit } from '../audit/events.js';
import type { Db } from '../db/connection.js';
import { checkPasswordInput, type PasswordHasher } from '../auth/passwords.js';
import { passwordProblems } from '../auth/password-policy.js';
import type { Clock } from '../lib/clock.js';
import { AppError, badRequest, conflict, notFound } from '../lib/errors.js';
import type { SqliteSessionStore } from '../sessions/store.js';
import { validateGroups } from './groups.js';
import { INVISIBLE, normalizeUsername } from './username.js';
import type { User, UserRepository } from './repository.js';

export type Credentials = { ok: true; user: User } | { ok: false; reason: 'bad-credentials' | 'user-disabled'; username: string | null };

export class Accounts {
  constructor(
    private readonly db: Db,
    readonly users: UserRepository,
    private readonly hasher: PasswordHasher,
    private readonly sessions: Pick<SqliteSessionStore, 'revokeUserSessions'>,
    private readonly audit: Audit,
    private readonly clock: Clock,
  ) {}

  /** Resolves a typed username to an existing user, or throws a 404 AppError. */
  require(rawUsername: string): User {
    const check = normalizeUsername(rawUsername);
    const user = check.ok ? this.users.findByUsername(check.username) : null;
    if (!user) throw notFound('user-not-found', `No user named "${rawUsername}".`);
    return user;
  }

  /**
   * Creates a user. `guard` runs in the same transaction as the insert and may throw to
   * cancel it (the setup page consumes its single-use token there).
   */
  async create(input: {
    username: string;
    password: string;
    displayName?: string;
    email?: string | null;
    groups?: string[];
    by: string;
    guard?: () => void;
  }): Promise<User> {
    const name = normalizeUsername(input.username);
    if (!name.ok) throw badRequest('invalid-username', name.message);
    const groups = validateGroups(input.groups ?? []);
    const password = this.acceptablePassword(input.password, name.username);
    if (this.users.findByUsername(name.username)) throw conflict('user-exists', `A user named "${name.username}" already exists.`);
    const displayName = (input.displayName ?? '').trim() || name.username;
    if (displayName.length > 128 || INVISIBLE.test(displayName)) {
      throw badRequest('invalid-display-name', 'Display names are at most 128 characters, without control or invisible characters.');
    }
    const email = input.email?.trim() || null;
    if (email !== null && !/^[^\s@]{1,64}@[^\s@]{1,255}$/.test(email)) throw badRequest('invalid-email', 'That does not look like an email address.');
    const passwordHash = await this.hasher.hash(password);
    try {
      return this.db.transaction(() => {
        input.guard?.();
        const user = this.users.insert({ username: name.username, displayName, email, passwordHash, groups, now: this.clock.now() });
        this.audit.userCreated({ userId: user.id, username: user.username, groups, by: input.by });
        return user;
      })();
    } catch (err) {
      // Two creations racing for one name: the UNIQUE constraint decides.
      if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE') throw conflict('user-exists', `A user named "${name.username}" already exists.`);
      throw err;
    }
  }

  async setPassword(rawUsername: string, newPassword: string, by: string, options: { keepSid?: string } = {}): Promise<{ sessionsRevoked: number }> {
    const user = this.require(rawUsername);
    const password = this.acceptablePassword(newPassword, user.username);
    const hash = await this.hasher.hash(password);
    return this.db.transaction(() => {
      this.users.setPasswordHash(user.id, hash, this.clock.now(), { changed: true });
      const revokeOptions = options.keepSid === undefined ? { by } : { by, exceptSid: options.keepSid };
      const sessionsRevoked = this.sessions.revokeUserSessions(user.id, 'password-changed', revokeOptions);
      this.audit.passwordChanged({ userId: user.id, username: user.username, by, sessionsRevoked });
      return { sessionsRevoked };
    })();
  }

  disable(rawUsername: string, by: string): { user: User; sessionsRevoked: number } {
    const user = this.require(rawUsername);
    return this.db.transaction(() => {
      this.users.setDisabled(user.id, true, this.clock.now());
      const sessionsRevoked = this.sessions.revokeUserSessions(user.id, 'user-disabled', { by });
      this.audit.userDisabled({ userId: user.id, username: user.username, by, sessionsRevoked });
      return { user, sessionsRevoked };
    })();
  }

  enable(rawUsername: string, by: string): User {
    const user = this.require(rawUsername);
    this.users.setDisabled(user.id, false, this.clock.now());
    this.audit.userEnabled({ userId: user.id, username: user.username, by });
    return user;
  }

  delete(rawUsername: string, by: string): { user: User; sessionsRevoked: number } {
    const user = this.require(rawUsername);
    return this.db.transaction(() => {
      // Ended sessions stay as tombstones (user_id becomes NULL) so they cannot be saved back.
      const sessionsRevoked = this.sessions.revokeUserSessions(user.id, 'user-deleted', { by });
      this.users.delete(user.id);
      this.audit.userDeleted({ userId: user.id, username: user.username, by, sessionsRevoked });
      return { user, sessionsRevoked };
    })();
  }

  /**
   * Checks a sign-in. Input shape must already be checked. Every path that does not find a
   * usable hash still spends one argon2 verification, so timing does not reveal users.
   */
  async verifyCredentials(rawUsername: string, password: string): Promise<Credentials> {
    const name = normalizeUsername(rawUsername);
    const found = name.ok ? this.users.findCredentials(name.username) : null;
    if (!found) {
      await this.hasher.verifyNobody(password);
      return { ok: false, reason: 'bad-credentials', username: name.ok ? name.username : null };
    }
    const { ok, rehash } = await this.hasher.verify(found.passwordHash, password);
    if (!ok) return { ok: false, reason: 'bad-credentials', username: found.user.username };
    if (found.user.disabled) return { ok: false, reason: 'user-disabled', username: found.user.username };
    if (rehash) this.users.setPasswordHash(found.user.id, await this.hasher.hash(password), this.clock.now(), { changed: false });
    this.users.recordLogin(found.user.id, this.clock.now());
    return { ok: true, user: found.user };
  }

  private acceptablePassword(raw: string, username: string): string {
    const input = checkPasswordInput(raw);
    if (!input.ok) throw badRequest('invalid-password', input.message);
    const problems = passwordProblems(input.password, { username });
    if (problems.length) throw new AppError('weak-password', 400, problems.join(' '));
    return input.password;
  }
}
