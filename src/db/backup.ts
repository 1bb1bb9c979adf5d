// Backup, restore and checking of the database: SQLite's online backup while the server
// runs, a checked and atomic restore while it is stopped, and integrity checks.

import { chmodSync, closeSync, copyFileSync, existsSync, fsyncSync, linkSync, openSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { databasePath, type Db } from './connection.js';
import { migrate, readMigrations } from './migrate.js';
import { schemaDifferences, shownName } from './schema-check.js';
import { isSecretKey, SECRET_KEYS, secretProblem, type Secrets } from '../config/secrets.js';
import { OperatorError } from '../lib/errors.js';

/*
 * The backup is one SQLite file: the database as of one moment, plus a small table
 * `gatehouse_backup` with the format, the time, the schema version and the keys from
 * secrets.json: the cookie key (a database restored without it signs everybody out) and
 * the second-factor key (without it no TOTP secret or recovery code can be checked). The
 * file holds password hashes anyway, so it must be kept as private as the data directory.
 * Restore removes the table again and writes the keys back to secrets.json.
 */
const META_TABLE = 'gatehouse_backup';
const META_SQL = `CREATE TABLE ${META_TABLE} (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT`;
const FORMAT = 'gatehouse-backup-1';


export interface CheckReport {
  /** PRAGMA integrity_check lines other than "ok". */
  integrity: string[];
  /** PRAGMA foreign_key_check rows, as "table row R points to missing PARENT". */
  foreignKeys: string[];
  /** Tables, indexes, views and triggers that are not what the migrations create, each named. */
  schema: string[];
  /** Malformed keys among the secrets a backup file holds (none for a database). */
  secrets: string[];
  /** Unknown keys among them: a restore leaves them out. */
  ignoredSecrets: string[];
  /** Highest applied migration (0: none, or not a gatehouse database). */
  schemaVersion: number;
  ok: boolean;
}

export function schemaVersion(db: Db): number {
  const table = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'").get();
  if (!table) return 0;
  return (db.prepare('SELECT coalesce(max(version), 0) FROM schema_migrations').pluck().get() as number) ?? 0;
}

/**
 * Checks a database, or with `backup` a backup file (which may also hold the table with the
 * stored keys): its schema against what the migrations of its version create, the stored
 * keys, SQLite's integrity check and the foreign keys.
 */
export function checkDatabase(db: Db, options: { backup?: boolean } = {}): CheckReport {
  const version = schemaVersion(db);
  const known = readMigrations();
  const hasMeta = options.backup === true && db.prepare('SELECT 1 FROM sqlite_schema WHERE name = ?').get(META_TABLE) !== undefined;
  const schema =
    version === 0
      ? ['no schema_migrations table: not a gatehouse database']
      : version > known.length
        ? [`schema version ${version} is newer than this gatehouse (${known.length}): its schema cannot be checked`]
        : schemaDifferences(db, version, known, hasMeta ? META_SQL : '');
  // The stored keys are read only from a table known to be the one backups write.
  const stored = hasMeta && schema.length === 0 ? storedSecrets(db) : { secrets: null, problems: [], ignored: [] };
  // max 100 lines: a badly damaged file can report thousands; the first ones say enough.
  const integrity = (db.pragma('integrity_check(100)') as Array<{ integrity_check: string }>).map((r) => r.integrity_check).filter((line) => line !== 'ok');
  const foreignKeys = (db.pragma('foreign_key_check') as Array<{ table: string; rowid: number | null; parent: string }>).map(
    (r) => `${r.table} row ${r.rowid ?? '?'} points to a missing ${r.parent} row`,
  );
  const ok = schema.length === 0 && stored.problems.length === 0 && integrity.length === 0 && foreignKeys.length === 0;
  return { integrity, foreignKeys, schema, secrets: stored.problems, ignoredSecrets: stored.ignored, schemaVersion: version, ok };
}

/** The problems of a failed report, one line each, for a message. */
export function reportProblems(report: CheckReport): string[] {
  return [
    ...report.schema.map((p) => `schema: ${p}`),
    ...report.secrets.map((p) => `stored secrets: ${p}`),
    ...report.integrity.map((p) => `integrity: ${p}`),
    ...report.foreignKeys.map((p) => `foreign key: ${p}`),
  ];
}

type BackedUpSecrets = Partial<Secrets>;

/**
 * The keys a backup file holds: only the known ones, each checked as at start-up (a damaged
 * second-factor key would stop the server); unknown keys are left out and named.
 */
function storedSecrets(db: Db): { secrets: BackedUpSecrets | null; problems: string[]; ignored: string[] } {
  const value = (key: string) => (db.prepare(`SELECT value FROM ${META_TABLE} WHERE key = ?`).pluck().get(key) as string | undefined) ?? null;
  const stored = value('secrets');
  // Backups from before the second-factor key carried the cookie key alone.
  const legacy = value('cookie_secret');
  let parsed: unknown = null;
  if (stored !== null) {
    try {
      parsed = JSON.parse(stored);
    } catch {
      return { secrets: null, problems: ['secrets is not valid JSON'], ignored: [] };
    }
  } else if (legacy !== null) {
    parsed = { cookieSecret: legacy };
  } else {
    return { secrets: null, problems: [], ignored: [] };
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return { secrets: null, problems: ['secrets is not a JSON object'], ignored: [] };
  const secrets: BackedUpSecrets = {};
  const problems: string[] = [];
  const ignored: string[] = [];
  for (const [key, v] of Object.entries(parsed)) {
    if (!isSecretKey(key)) {
      ignored.push(shownName(key));
      continue;
    }
    const problem = secretProblem(key, v);
    if (problem) problems.push(problem);
    else secrets[key] = v as string;
  }
  return { secrets: problems.length ? null : secrets, problems, ignored };
}

/** Opens an existing SQLite file for reading, with a clear message when it is not one. */
function openExisting(file: string, what: string, options: { readonly?: boolean } = {}): Db {
  if (!existsSync(file)) throw new OperatorError(`${what} ${file} does not exist`);
  if (!statSync(file).isFile()) throw new OperatorError(`${what} ${file} is not a file`);
  let db: Db;
  try {
    db = new Database(file, { fileMustExist: true, readonly: options.readonly ?? false });
    db.pragma('busy_timeout = 5000');
    db.prepare('SELECT count(*) FROM sqlite_master').get();
  } catch (err) {
    throw new OperatorError(`${what} ${file} cannot be read as an SQLite database (${(err as Error).message})`);
  }
  return db;
}

/** Schema, stored-key, integrity and foreign-key check of a database file (the live one, or a backup). */
export function checkDatabaseFile(file: string, options: { backup?: boolean } = { backup: true }): CheckReport {
  const db = openExisting(file, 'database');
  try {
    return checkDatabase(db, options);
  } finally {
    db.close();
  }
}

function fsyncPath(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** The keys in secrets.json a restore needs: the cookie key and the second-factor key. */
function readSecrets(dataDir: string): BackedUpSecrets | null {
  try {
    const parsed = JSON.parse(readFileSync(join(dataDir, 'secrets.json'), 'utf8')) as Record<string, unknown>;
    const secrets: BackedUpSecrets = {};
    for (const field of SECRET_KEYS) if (typeof parsed[field] === 'string') secrets[field] = parsed[field];
    return secrets.cookieSecret ? secrets : null;
  } catch {
    return null;
  }
}

function stamp(now: Date): string {
  return now.toISOString().replace(/[:.]/g, '-');
}

export interface BackupResult {
  file: string;
  bytes: number;
  schemaVersion: number;
  users: number;
  liveSessions: number;
  withCookieKey: boolean;
}

/**
 * Copies the live database with SQLite's online backup API (the server may keep writing)
 * into `target`: written to a temporary file next to it, checked, then renamed into place,
 * so `target` is either the old file or a complete backup, never half of one.
 */
export async function backupDatabase(dataDir: string, target: string, options: { force?: boolean } = {}): Promise<BackupResult> {
  const source = databasePath(dataDir);
  const file = resolve(target);
  if (existsSync(file)) {
    if (statSync(file).isDirectory()) throw new OperatorError(`${file} is a directory; give a file name, e.g. ${join(file, 'gatehouse-backup.db')}`, 2);
    if (!options.force) throw new OperatorError(`${file} already exists; choose another name or add --force to replace it`);
  }
  if (!existsSync(dirname(file))) throw new OperatorError(`the directory ${dirname(file)} does not exist`);
  // Never over gatehouse's own files (the database, its WAL and shared memory, the cookie
  // key and their .bak copies), whatever --force says.
  if (dirname(file) === resolve(dataDir) && /^(gatehouse\.db|secrets\.json)/.test(basename(file))) {
    throw new OperatorError(`${basename(file)} is one of gatehouse's own files in the data directory; choose another name`, 2);
  }
  const db = openExisting(source, 'no database yet:');
  const temp = join(dirname(file), `.${basename(file)}.${process.pid}.tmp`);
  rmSync(temp, { force: true });
  try {
    // All remaining pages in one step, under one read transaction: a consistent snapshot
    // even while the server writes (WAL readers do not block it), instead of restarting
    // after every write the server commits between small steps. (0 would copy nothing.)
    await db.backup(temp, { progress: () => 0x7fffffff });
    const copy = new Database(temp);
    let result: Omit<BackupResult, 'file' | 'bytes'>;
    try {
      // A self-contained file: no -wal beside it to forget when copying it elsewhere.
      copy.pragma('journal_mode = DELETE');
      const report = checkDatabase(copy);
      if (!report.ok) throw new OperatorError(`the copy failed its check: ${reportProblems(report).slice(0, 5).join('; ')}; run "gatehouse db check"`);
      const secrets = readSecrets(dataDir);
      copy.exec(META_SQL);
      const put = copy.prepare(`INSERT INTO ${META_TABLE} (key, value) VALUES (?, ?)`);
      put.run('format', FORMAT);
      put.run('created_at', new Date().toISOString());
      put.run('schema_version', String(report.schemaVersion));
      // The cookie key (else a restore signs everybody out) and the key that decrypts TOTP
      // secrets and checks recovery codes (else every second factor is lost).
      if (secrets) put.run('secrets', JSON.stringify(secrets));
      result = {
        schemaVersion: report.schemaVersion,
        users: copy.prepare('SELECT count(*) FROM users').pluck().get() as number,
        liveSessions: copy.prepare('SELECT count(*) FROM sessions WHERE user_id IS NOT NULL AND deleted_at IS NULL').pluck().get() as number,
        withCookieKey: secrets !== null,
      };
    } finally {
      copy.close();
    }
    chmodSync(temp, 0o600);
    fsyncPath(temp);
    renameSync(temp, file);
    fsyncPath(dirname(file));
    return { file, bytes: statSync(file).size, ...result };
  } catch (err) {
    rmSync(temp, { force: true });
    throw err;
  } finally {
    db.close();
  }
}

export interface RestoreResult {
  schemaVersion: number;
  /** Where the replaced database was kept (null: there was none). */
  previous: string | null;
  /** The cookie key: restored from the backup, kept (none in the backup), or unchanged. */
  cookieKey: 'restored' | 'kept' | 'same';
  /** Unknown keys in the backup's stored secrets, left out (quoted for the terminal). */
  ignoredSecrets: string[];
  users: number;
}

/**
 * Makes the database usable again from a backup while the server is stopped: checks the
 * file (exactly the schema objects the migrations of its version create, nothing else, as a
 * backup could otherwise bring e.g. a trigger copying password hashes into the audit log;
 * valid stored keys; integrity; foreign keys), brings it to the current
 * schema in a staging copy, keeps the current database as gatehouse.db.<time>.bak, and
 * renames the staging copy into place (atomic: the path always names a whole database).
 */
export function restoreDatabase(dataDir: string, backupFile: string, now = new Date()): RestoreResult {
  const target = databasePath(dataDir);
  const source = openExisting(resolve(backupFile), 'backup', { readonly: true });
  let secrets: BackedUpSecrets | null = null;
  let ignoredSecrets: string[] = [];
  let version: number;
  try {
    // Everything is checked before anything is copied or migrated: a trigger in the file
    // would fire during the migration already.
    const report = checkDatabase(source, { backup: true });
    version = report.schemaVersion;
    if (version === 0) throw new OperatorError(`${backupFile} is not a gatehouse database (no schema_migrations table)`);
    const known = readMigrations().length;
    if (version > known) throw new OperatorError(`the backup has schema version ${version}, newer than this gatehouse (${known}); restore it with the gatehouse version that made it`);
    if (report.schema.length) {
      throw new OperatorError(
        `refusing ${backupFile}: its schema is not what gatehouse's migrations (version ${version}) create — ${report.schema.join('; ')}. ` +
          'A backup made by "gatehouse backup" has no such changes; nothing was changed',
      );
    }
    if (report.secrets.length) throw new OperatorError(`refusing ${backupFile}: its stored secrets are not usable — ${report.secrets.join('; ')}; nothing was changed`);
    if (!report.ok) throw new OperatorError(`the backup is damaged: ${reportProblems(report).slice(0, 5).join('; ')}`);
    if (source.prepare('SELECT 1 FROM sqlite_schema WHERE name = ?').get(META_TABLE)) {
      ({ secrets, ignored: ignoredSecrets } = storedSecrets(source));
    }
  } catch (err) {
    source.close();
    throw err;
  }

  const current = existsSync(target) ? claimExclusively(target) : null;
  const staging = `${target}.restore-${process.pid}.tmp`;
  try {
    rmSync(staging, { force: true });
    // Copied through SQLite, not as a file: that also picks up a -wal left beside a
    // hand-made copy, and leaves the backup file itself untouched.
    source.exec(`VACUUM INTO '${staging.replace(/'/g, "''")}'`);
    const staged = new Database(staging);
    try {
      staged.pragma('journal_mode = DELETE');
      staged.exec(`DROP TABLE IF EXISTS ${META_TABLE}`);
      staged.pragma('foreign_keys = ON');
      try {
        migrate(staged);
      } catch (err) {
        throw new OperatorError(`the backup cannot be brought to this gatehouse's schema: ${(err as Error).message}`);
      }
      const report = checkDatabase(staged);
      if (!report.ok) throw new OperatorError(`the restored copy failed its check: ${reportProblems(report).slice(0, 5).join('; ')}`);
      version = report.schemaVersion;
    } finally {
      staged.close();
    }
    const users = countUsers(staging);
    chmodSync(staging, 0o600);
    fsyncPath(staging);
    let previous: string | null = null;
    if (current) {
      previous = `${target}.${stamp(now)}.bak`;
      // A hard link keeps the old file under the .bak name without a moment where the
      // database path is empty (a server starting then would create a new, empty one).
      try {
        linkSync(target, previous);
      } catch {
        copyFileSync(target, previous);
      }
    }
    renameSync(staging, target);
    for (const extra of [`${target}-wal`, `${target}-shm`]) rmSync(extra, { force: true });
    fsyncPath(dataDir);
    const cookieKey = restoreSecrets(dataDir, secrets, now);
    return { schemaVersion: version, previous, cookieKey, ignoredSecrets, users };
  } finally {
    rmSync(staging, { force: true });
    current?.close();
    source.close();
  }
}

function countUsers(file: string): number {
  const db = new Database(file, { readonly: true });
  try {
    return db.prepare('SELECT count(*) FROM users').pluck().get() as number;
  } finally {
    db.close();
  }
}

/**
 * Proves no other process has the database open, and keeps it that way until the swap: a
 * WAL database can leave WAL mode only when its connection is the only one (SQLite then
 * holds the exclusive lock), so SQLITE_BUSY here means the server or another gatehouse
 * command is running. Without waiting: a running server would hold it forever.
 */
function claimExclusively(file: string): Db {
  const db = new Database(file, { fileMustExist: true });
  try {
    db.pragma('busy_timeout = 0');
    const mode = db.pragma('journal_mode = DELETE', { simple: true }) as string;
    if (mode !== 'delete') throw Object.assign(new Error('still in WAL mode'), { code: 'SQLITE_BUSY' });
    db.pragma('locking_mode = EXCLUSIVE');
    db.exec('BEGIN EXCLUSIVE');
    return db;
  } catch (err) {
    db.close();
    if ((err as { code?: string }).code?.startsWith('SQLITE_BUSY') || (err as { code?: string }).code === 'SQLITE_LOCKED') {
      throw new OperatorError('the database is in use: stop the gatehouse server (e.g. "systemctl stop gatehouse") and any other gatehouse command first');
    }
    throw err;
  }
}

function restoreSecrets(dataDir: string, secrets: BackedUpSecrets | null, now: Date): RestoreResult['cookieKey'] {
  if (!secrets?.cookieSecret) return 'kept';
  const file = join(dataDir, 'secrets.json');
  const existing = readSecrets(dataDir) ?? {};
  if (SECRET_KEYS.every((f) => secrets[f] === undefined || existing[f] === secrets[f])) return 'same';
  if (existsSync(file)) copyFileSync(file, `${file}.${stamp(now)}.bak`);
  const temp = `${file}.${process.pid}.tmp`;
  let other: Record<string, unknown> = {};
  try {
    other = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch {
    other = {};
  }
  writeFileSync(temp, `${JSON.stringify({ ...other, ...secrets }, null, 2)}\n`, { mode: 0o600 });
  fsyncPath(temp);
  renameSync(temp, file);
  fsyncPath(dataDir);
  return 'restored';
}
