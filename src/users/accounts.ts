// Account operations shared by the setup page, the CLI and (later) the admin pages:
// create, change password, disable, enable, delete, and credential checks for sign-in.

import type { Audit } from '../audit/events.js';
import { AuditLog } from '../audit/query.js';
import type { ApiTokens } from '../tokens/api-tokens.js';
import { durably, type Db } from '../db/connection.js';
import { checkPasswordInput, type PasswordHasher } from '../passwords/hasher.js';
import { passwordProblems, type Requester } from '../passwords/policy.js';
import type { Clock } from '../lib/clock.js';
import { AppError, badRequest, conflict, notFound } from '../lib/errors.js';
import { revokeAllRememberedDevices } from '../twofactor/remembered-devices.js';
import type { Sessions } from '../sessions/sessions.js';
import { isAdmin, validateGroups } from './groups.js';
import { INVISIBLE, normalizeUsername } from './username.js';
import type { User, UserRepository } from './repository.js';

/**
 * A checked sign-in. `epoch` is the user's session epoch read before the password was
 * checked: a session issued for it proves no password change or revoke-all came between.
 */
export type Credentials = { ok: true; user: User; epoch: number } | { ok: false; reason: 'bad-credentials' | 'user-disabled'; username: string | null };

export class Accounts {
  constructor(
    private readonly db: Db,
    readonly users: UserRepository,
    private readonly hasher: PasswordHasher,
    private readonly sessions: Pick<Sessions, 'revokeUserSessions' | 'epochOf'>,
    private readonly audit: Audit,
    private readonly clock: Clock,
    private readonly auditLog: AuditLog = new AuditLog(db),
    private readonly tokens: Pick<ApiTokens, 'revokeAllOf'> | null = null,
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
    /** Who asks (src/throttle/strength-budget.ts): the password's estimate is charged to them. */
    requester?: Requester;
  }): Promise<User> {
    const name = normalizeUsername(input.username);
    if (!name.ok) throw badRequest('invalid-username', name.message);
    const groups = checkedGroups(input.groups ?? []);
    const password = await this.acceptablePassword(input.password, name.username, false, input.requester);
    if (this.users.findByUsername(name.username)) throw conflict('user-exists', `A user named "${name.username}" already exists.`);
    const displayName = checkedDisplayName(input.displayName ?? '') || name.username;
    const email = checkedEmail(input.email ?? null);
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

  /**
   * Sets a new password, ends the user's other sessions (reason `password-changed`) and
   * revokes their API tokens.
   * `keepSid`: the session the user changed it from stays signed in. `reset`: an
   * administrator chose it, so the user must pick their own at next sign-in.
   * `hasSecondFactor`: the account has one (ctx.twoFactor.isEnabled), so 8 characters are
   * enough instead of 15 (NIST SP 800-63B-4); callers that do not say get the stricter rule.
   * `requester`: who asks; the new password's estimate is charged to them (429 when spent).
   */
  async setPassword(
    rawUsername: string,
    newPassword: string,
    by: string,
    options: { keepSid?: string; reset?: boolean; ip?: string; hasSecondFactor?: boolean; requester?: Requester } = {},
  ): Promise<{ sessionsRevoked: number; tokensRevoked: number }> {
    const user = this.require(rawUsername);
    const password = await this.acceptablePassword(newPassword, user.username, options.hasSecondFactor === true, options.requester);
    const hash = await this.hasher.hash(password);
    // Sessions end durably (fsynced): see durably().
    return durably(this.db, this.db.transaction(() => {
      this.users.setPasswordHash(user.id, hash, this.clock.now(), { changed: true, mustChange: options.reset === true });
      const revokeOptions = options.keepSid === undefined ? { by } : { by, exceptSid: options.keepSid };
      const sessionsRevoked = this.sessions.revokeUserSessions(user.id, 'password-changed', revokeOptions);
      // API tokens are credentials too: one made by an intruder must not survive the recovery.
      const tokensRevoked = this.tokens?.revokeAllOf(user.id, by) ?? 0;
      // So are remembered devices: a new password asks for the second factor again everywhere.
      revokeAllRememberedDevices(this.db, this.clock, this.audit, user.id, 'password-changed');
      const who = { userId: user.id, username: user.username, ip: options.ip ?? null, by, sessionsRevoked };
      if (options.reset) this.audit.passwordReset(who);
      else this.audit.passwordChanged(who);
      return { sessionsRevoked, tokensRevoked };
    }));
  }

  /** True when `password` is the user's current password (one gated argon2 verification). */
  async checkPassword(userId: number, password: string): Promise<boolean> {
    const input = checkPasswordInput(password);
    const hash = this.users.passwordHash(userId);
    if (!input.ok || hash === null) {
      await this.hasher.verifyNobody(input.ok ? input.password : 'x');
      return false;
    }
    return (await this.hasher.verify(hash, input.password)).ok;
  }

  /**
   * Changes display name, email and/or groups (administrators). Refuses to take the last
   * enabled administrator out of the admins group.
   */
  update(rawUsername: string, changes: { displayName?: string; email?: string | null; groups?: string[] }, by: string): User {
    const user = this.require(rawUsername);
    const clean: { displayName?: string; email?: string | null; groups?: string[] } = {};
    const logged: Record<string, unknown> = {};
    if (changes.displayName !== undefined) {
      clean.displayName = checkedDisplayName(changes.displayName) || user.username;
      if (clean.displayName !== user.displayName) logged.display_name = true;
    }
    if (changes.email !== undefined) {
      clean.email = checkedEmail(changes.email);
      if (clean.email !== user.email) logged.email = true;
    }
    if (changes.groups !== undefined) {
      clean.groups = checkedGroups(changes.groups);
      if (clean.groups.join(',') !== user.groups.join(',')) logged.groups = { from: user.groups, to: clean.groups };
    }
    // Fsynced: a demotion lost to a power cut would give the rights back.
    return durably(this.db, this.db.transaction(() => {
      if (changes.groups !== undefined && isAdmin(user.groups) && !user.disabled && !isAdmin(clean.groups ?? [])) this.keepAnAdmin(user);
      this.users.update(user.id, clean, this.clock.now());
      if (Object.keys(logged).length) this.audit.userUpdated({ userId: user.id, username: user.username, by, changes: logged });
      return this.users.findByUsername(user.username) as User;
    }));
  }

  /** The user asks for their account to be deleted; an administrator confirms by deleting it. */
  requestDeletion(userId: number, ip: string | null): void {
    const user = this.users.findById(userId);
    if (!user) throw notFound('user-not-found', 'There is no such user.');
    if (user.deletionRequestedAt !== null) return;
    this.users.setDeletionRequested(userId, this.clock.now());
    this.audit.deletionRequested({ userId, username: user.username, ip });
  }

  cancelDeletion(userId: number, by: string): void {
    const user = this.users.findById(userId);
    if (!user) throw notFound('user-not-found', 'There is no such user.');
    if (user.deletionRequestedAt === null) return;
    this.users.setDeletionRequested(userId, null);
    this.audit.deletionCancelled({ userId, username: user.username, by });
  }

  /** Users who asked to be deleted, oldest request first. */
  deletionRequests(): User[] {
    return this.users.list().filter((u) => u.deletionRequestedAt !== null).sort((a, b) => (a.deletionRequestedAt ?? 0) - (b.deletionRequestedAt ?? 0));
  }

  /**
   * Disables a user: sessions end, API tokens are revoked and remembered devices forgotten
   * (ASVS 7.4: all sessions and tokens end), so enabling the account later brings none back.
   */
  disable(rawUsername: string, by: string): { user: User; sessionsRevoked: number; tokensRevoked: number } {
    const user = this.require(rawUsername);
    // Sessions end durably (fsynced): see durably().
    return durably(this.db, this.db.transaction(() => {
      if (isAdmin(user.groups) && !user.disabled) this.keepAnAdmin(user);
      this.users.setDisabled(user.id, true, this.clock.now());
      const sessionsRevoked = this.sessions.revokeUserSessions(user.id, 'user-disabled', { by });
      const tokensRevoked = this.tokens?.revokeAllOf(user.id, by) ?? 0;
      revokeAllRememberedDevices(this.db, this.clock, this.audit, user.id, 'user-disabled');
      this.audit.userDisabled({ userId: user.id, username: user.username, by, sessionsRevoked });
      return { user, sessionsRevoked, tokensRevoked };
    }));
  }

  enable(rawUsername: string, by: string): User {
    const user = this.require(rawUsername);
    this.users.setDisabled(user.id, false, this.clock.now());
    this.audit.userEnabled({ userId: user.id, username: user.username, by });
    return user;
  }

  /**
   * Deletes a user and their personal data: sessions end and keep only an anonymous
   * tombstone (so they cannot be saved back), API tokens go (cascade), and audit entries
   * keep the never-reused numeric id but lose the username.
   */
  delete(rawUsername: string, by: string): { user: User; sessionsRevoked: number } {
    const user = this.require(rawUsername);
    // Sessions end durably (fsynced): see durably().
    return durably(this.db, this.db.transaction(() => {
      if (isAdmin(user.groups) && !user.disabled) this.keepAnAdmin(user);
      const sessionsRevoked = this.sessions.revokeUserSessions(user.id, 'user-deleted', { by });
      this.db.prepare("UPDATE sessions SET data = '{}', bound_ip = NULL, user_agent = NULL, delete_detail = NULL WHERE user_id = ?").run(user.id);
      this.users.delete(user.id);
      this.auditLog.anonymize(user.id, user.username);
      this.audit.userDeleted({ userId: user.id, by, sessionsRevoked });
      return { user, sessionsRevoked };
    }));
  }

  /** Refuses a change that would leave no enabled administrator (nobody could manage the household). */
  private keepAnAdmin(user: User): void {
    if (this.users.countEnabledAdmins() <= 1) {
      throw conflict('last-admin', `${user.username} is the only enabled administrator; make someone else an administrator first.`);
    }
  }

  /**
   * Checks a sign-in. Input shape must already be checked. Every path that does not find a
   * usable hash still spends one argon2 verification, so timing does not reveal users.
   */
  async verifyCredentials(rawUsername: string, password: string): Promise<Credentials> {
    const name = normalizeUsername(rawUsername);
    // The hash and the session epoch from one snapshot, before the slow check: a password
    // change committed at any point after (by this process or the CLI) moves the epoch on,
    // and the session this sign-in asks for is then refused (Sessions.succeed).
    const read = this.db.transaction(() => {
      const credentials = name.ok ? this.users.findCredentials(name.username) : null;
      return credentials ? { ...credentials, epoch: this.sessions.epochOf(credentials.user.id) } : null;
    });
    const found = read();
    if (!found) {
      await this.hasher.verifyNobody(password);
      return { ok: false, reason: 'bad-credentials', username: name.ok ? name.username : null };
    }
    const epoch = found.epoch;
    const { ok, rehash } = await this.hasher.verify(found.passwordHash, password);
    if (!ok) return { ok: false, reason: 'bad-credentials', username: found.user.username };
    if (found.user.disabled) return { ok: false, reason: 'user-disabled', username: found.user.username };
    if (rehash) this.users.setPasswordHash(found.user.id, await this.hasher.hash(password), this.clock.now(), { changed: false, replacing: found.passwordHash });
    this.users.recordLogin(found.user.id, this.clock.now());
    return { ok: true, user: found.user, epoch };
  }

  /**
   * The policy check alone, for forms (same rules as setting it). The estimate runs in the
   * estimator's worker, charged to `requester`; a busy or broken one rejects with a 503
   * AppError, a spent budget with 429.
   */
  async passwordProblems(password: string, username: string, hasSecondFactor = false, requester?: Requester): Promise<string[]> {
    const input = checkPasswordInput(password);
    if (!input.ok) return [input.message];
    return passwordProblems(input.password, { username, hasSecondFactor, requester });
  }

  private async acceptablePassword(raw: string, username: string, hasSecondFactor = false, requester?: Requester): Promise<string> {
    const input = checkPasswordInput(raw);
    if (!input.ok) throw badRequest('invalid-password', input.message);
    const problems = await passwordProblems(input.password, { username, hasSecondFactor, requester });
    if (problems.length) throw new AppError('weak-password', 400, problems.join(' '));
    return input.password;
  }
}

function checkedDisplayName(raw: string): string {
  const name = raw.trim();
  if (name.length > 128 || INVISIBLE.test(name)) {
    throw badRequest('invalid-display-name', 'Display names are at most 128 characters, without control or invisible characters.');
  }
  return name;
}

function checkedEmail(raw: string | null): string | null {
  const email = raw?.trim() || null;
  if (email !== null && (INVISIBLE.test(email) || !/^[^\s@]{1,64}@[^\s@]{1,255}$/.test(email))) {
    throw badRequest('invalid-email', 'That does not look like an email address.');
  }
  return email;
}

function checkedGroups(groups: string[]): string[] {
  try {
    return validateGroups(groups);
  } catch (err) {
    if (err instanceof RangeError) throw badRequest('invalid-groups', `${err.message}.`);
    throw err;
  }
}
