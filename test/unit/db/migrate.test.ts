// The migration runner: numbered, append-only SQL files applied in order on a real SQLite
// file, each in its own transaction, with checksums that catch an edited old migration.

import { appendFileSync, copyFileSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import { openDatabase, type Db } from '../../../src/db/connection.js';
import { migrate, readMigrations } from '../../../src/db/migrate.js';
import { sha256Hex } from '../../../src/lib/crypto.js';
import { migrationsDir } from '../../../src/lib/paths.js';
import { tempDir } from '../../support/harness.js';

describe('database migrations', () => {
  let dir: string;
  let db: Db;
  const shipped = readMigrations();

  beforeEach(() => {
    dir = tempDir('gatehouse-migrate-');
    db = openDatabase(join(dir, 'gatehouse.db'));
  });
  afterEach(() => {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** A copy of the shipped migrations in a folder the test may change. */
  function copyOfMigrations(): string {
    const copy = join(dir, 'migrations');
    mkdirSync(copy);
    for (const file of readdirSync(migrationsDir)) copyFileSync(join(migrationsDir, file), join(copy, file));
    return copy;
  }

  const tables = () => (db.prepare("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name").pluck().all() as string[]);
  const appliedVersions = () => db.prepare('SELECT version FROM schema_migrations ORDER BY version').pluck().all() as number[];

  it('reads the shipped migrations numbered 1, 2, 3… in order', () => {
    expect(shipped.length).to.be.greaterThan(0);
    expect(shipped.map((m) => m.version)).to.deep.equal(shipped.map((_, i) => i + 1));
  });

  it('applies every migration to an empty database and records each with its checksum', () => {
    expect(migrate(db)).to.deep.equal(shipped.map((m) => m.version));
    expect(tables()).to.include.members(['users', 'sessions', 'audit_log', 'setup_tokens', 'schema_migrations']);
    const rows = db.prepare('SELECT version, name, checksum FROM schema_migrations ORDER BY version').all();
    expect(rows).to.deep.equal(shipped.map((m) => ({ version: m.version, name: m.name, checksum: sha256Hex(m.sql) })));
  });

  it('does nothing on a second run', () => {
    migrate(db);
    const before = tables();
    expect(migrate(db)).to.deep.equal([]);
    expect(tables()).to.deep.equal(before);
    expect(appliedVersions()).to.deep.equal(shipped.map((m) => m.version));
  });

  it('applies only the new migration when one is added', () => {
    const copy = copyOfMigrations();
    migrate(db, readMigrations(copy));
    const next = shipped.length + 1;
    writeFileSync(join(copy, `${String(next).padStart(4, '0')}_add_notes.sql`), 'CREATE TABLE notes (id INTEGER PRIMARY KEY) STRICT;\n');
    expect(migrate(db, readMigrations(copy))).to.deep.equal([next]);
    expect(tables()).to.include('notes');
  });

  it('refuses a migration that was changed after it was applied', () => {
    const copy = copyOfMigrations();
    migrate(db, readMigrations(copy));
    appendFileSync(join(copy, readdirSync(copy).sort()[0] as string), '\n-- an innocent-looking edit\n');
    expect(() => migrate(db, readMigrations(copy))).to.throw(/was changed after it was applied/);
  });

  it('refuses a database newer than the code', () => {
    const copy = copyOfMigrations();
    const next = shipped.length + 1;
    writeFileSync(join(copy, `${String(next).padStart(4, '0')}_from_the_future.sql`), 'CREATE TABLE future (id INTEGER PRIMARY KEY) STRICT;\n');
    migrate(db, readMigrations(copy));
    expect(() => migrate(db)).to.throw(new RegExp(`schema version ${next}, newer than this gatehouse`));
  });

  it('refuses gaps in the numbering', () => {
    const copy = copyOfMigrations();
    writeFileSync(join(copy, `${String(shipped.length + 2).padStart(4, '0')}_skipped_one.sql`), 'SELECT 1;\n');
    expect(() => readMigrations(copy)).to.throw(/without gaps/);
  });

  it('refuses two migrations with the same number', () => {
    const copy = copyOfMigrations();
    writeFileSync(join(copy, '0001_duplicate.sql'), 'SELECT 1;\n');
    expect(() => readMigrations(copy)).to.throw(/without gaps/);
  });

  it('refuses a migration file whose name is not NNNN_name.sql', () => {
    const copy = copyOfMigrations();
    writeFileSync(join(copy, '2_Bad-Name.sql'), 'SELECT 1;\n');
    expect(() => readMigrations(copy)).to.throw(/must look like 0001_name\.sql/);
  });

  it('rolls back a failing migration completely and does not record it', () => {
    const copy = copyOfMigrations();
    migrate(db, readMigrations(copy));
    const next = shipped.length + 1;
    writeFileSync(
      join(copy, `${String(next).padStart(4, '0')}_broken.sql`),
      'CREATE TABLE half_done (id INTEGER PRIMARY KEY) STRICT;\nINSERT INTO no_such_table VALUES (1);\n',
    );
    expect(() => migrate(db, readMigrations(copy))).to.throw(/no such table/);
    expect(tables()).to.not.include('half_done');
    expect(appliedVersions()).to.deep.equal(shipped.map((m) => m.version));
  });

  it('rebuilds the users table without losing users or the sessions that point at them', () => {
    migrate(db, shipped.slice(0, 1));
    db.prepare("INSERT INTO users (id, username, display_name, password_hash, created_at, updated_at, password_changed_at) VALUES (7, 'alice', 'Alice', 'x', 1, 1, 1)").run();
    db.prepare(
      `INSERT INTO sessions (id_hash, user_id, data, created_at, last_seen_at, idle_timeout_ms, idle_expires_at, absolute_expires_at)
       VALUES (?, 7, '{}', 1, 1, 1, 2, 2)`,
    ).run('a'.repeat(64));
    migrate(db, shipped);
    expect(db.prepare('SELECT user_id FROM sessions').pluck().get()).to.equal(7);
    expect(db.prepare('SELECT username FROM users WHERE id = 7').pluck().get()).to.equal('alice');
    expect(db.pragma('foreign_keys', { simple: true })).to.equal(1);
    expect(() => db.prepare("UPDATE sessions SET user_id = 99").run()).to.throw(/FOREIGN KEY/);
    db.prepare('DELETE FROM users WHERE id = 7').run();
    expect(db.prepare('SELECT user_id FROM sessions').pluck().get()).to.equal(null);
  });
});
