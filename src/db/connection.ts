// Opening the SQLite database with the pragmas every connection needs.

import { chmodSync, existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import Database from 'better-sqlite3';

export type Db = Database.Database;

export function databasePath(dataDir: string): string {
  return join(dataDir, 'gatehouse.db');
}

/**
 * The data dir holds password hashes and the cookie key: only the service account may read
 * it. mkdir's mode applies only to a new directory, so an existing one is tightened too.
 */
export function secureDataDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  if ((statSync(dir).mode & 0o077) !== 0) chmodSync(dir, 0o700);
}

/** `mustExist`: open only an existing database file, never create one (the CLI). */
export function openDatabase(file: string, options: { readonly?: boolean; mustExist?: boolean } = {}): Db {
  if (!options.readonly) secureDataDir(dirname(file));
  const db = new Database(file, { readonly: options.readonly ?? false, fileMustExist: options.readonly === true || options.mustExist === true });
  if (!options.readonly) {
    for (const f of [file, `${file}-wal`, `${file}-shm`]) {
      if (existsSync(f) && (statSync(f).mode & 0o077) !== 0) chmodSync(f, 0o600);
    }
  }
  // WAL lets the CLI and backups read while the server writes; busy_timeout makes the
  // short write locks of another process wait instead of failing.
  if (!options.readonly) db.pragma('journal_mode = WAL');
  db.pragma('busy_timeout = 5000');
  db.pragma('foreign_keys = ON');
  // NORMAL in WAL mode: every commit is in the WAL (written, not yet fsynced) before the
  // answer is sent, so a crashed or killed process loses nothing acknowledged (tested by
  // test/integration/ops/lifecycle.test.ts with kill -9). A power loss can lose the last
  // commits before the next checkpoint. FULL would close that gap, but fsyncs every commit
  // on the event loop: measured 1.3-2.6 ms per write here (store writes from ~14,000/s to
  // ~400-800/s), paid by every rate-limit hit and failed sign-in under a login storm.
  // The commits that end sessions use FULL (durably, below): a sign-out lost to a power cut
  // would bring a session back.
  db.pragma('synchronous = NORMAL');
  return db;
}

/**
 * Runs `work` so that its commit is fsynced before it returns (synchronous = FULL), for the
 * few writes that must survive a power cut: ending sessions (sign-out, revocation, password
 * change, disabling). Inside an enclosing transaction the setting would not reach the
 * commit, so the outermost caller must use it; nested calls just run.
 */
export function durably<T>(db: Db, work: () => T): T {
  if (db.inTransaction) return work();
  db.pragma('synchronous = FULL');
  try {
    return work();
  } finally {
    db.pragma('synchronous = NORMAL');
  }
}
