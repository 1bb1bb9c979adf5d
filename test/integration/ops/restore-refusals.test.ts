// What `gatehouse restore` and `db check` refuse in a backup file: schema objects the
// migrations do not create (an added trigger, view, index or table, an altered or a missing
// one) and malformed keys among the stored secrets; unknown keys are left out. A refused
// restore leaves the live database and secrets.json as they were.

import { copyFileSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { expect } from 'chai';
import { backupDatabase, checkDatabaseFile, restoreDatabase } from '../../../src/db/backup.js';
import { databasePath } from '../../../src/db/connection.js';
import { migrate, readMigrations } from '../../../src/db/migrate.js';
import { runDbCheck, runRestore } from '../../../src/cli/ops.js';
import { buildOnce, gatehouse } from '../../support/cli.js';
import { addUser, startApp, tempDir, testConfig } from '../../support/harness.js';

describe('restore and db check refuse what the migrations do not create', function () {
  this.timeout(60_000);
  const dirs: string[] = [];
  const dir = () => {
    const d = tempDir('gatehouse-restore-');
    dirs.push(d);
    return d;
  };
  let pristine: string;
  let liveDir: string;
  let sourceSecrets: { cookieSecret: string; twoFactorKey: string };

  before(async () => {
    buildOnce();
    const source = await startApp({ dataDir: dir() });
    await addUser(source.ctx, 'pat');
    sourceSecrets = { ...source.ctx.secrets };
    await source.close({ remove: false });
    pristine = join(dir(), 'pristine.db');
    await backupDatabase(source.dataDir, pristine);
    // The installation a restore would replace: its own user and its own keys.
    const live = await startApp({ dataDir: dir() });
    await addUser(live.ctx, 'live-user');
    await live.close({ remove: false });
    liveDir = live.dataDir;
  });
  after(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  /** A copy of the pristine backup changed by `sql` (run on a raw connection). */
  function tampered(sql: string, options: { unsafe?: boolean } = {}): string {
    const file = join(dir(), 'tampered.db');
    copyFileSync(pristine, file);
    const db = new Database(file);
    if (options.unsafe) db.unsafeMode(true);
    db.exec(sql);
    db.close();
    return file;
  }

  function liveState(): { db: Buffer; secrets: string; files: string[] } {
    return { db: readFileSync(databasePath(liveDir)), secrets: readFileSync(join(liveDir, 'secrets.json'), 'utf8'), files: readdirSync(liveDir).sort() };
  }

  /** Restore must throw naming every one of `names`, and leave the live installation as it was. */
  function expectRefused(file: string, names: string[]): string {
    const before = liveState();
    let message = '';
    try {
      restoreDatabase(liveDir, file);
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message, 'restore refused').to.not.equal('');
    for (const name of names) expect(message).to.contain(name);
    const after = liveState();
    expect(after.files, 'no .bak, no staging file').to.deep.equal(before.files);
    expect(after.db.equals(before.db), 'the live database is untouched').to.equal(true);
    expect(after.secrets).to.equal(before.secrets);
    const report = checkDatabaseFile(file);
    expect(report.ok, 'db check fails too').to.equal(false);
    for (const name of names) expect(report.schema.join('\n')).to.contain(name);
    return message;
  }

  it('refuses a trigger that copies new password hashes into the audit log (CLI: restore and db check name it)', async () => {
    const file = tampered(`CREATE TRIGGER audit_password_copy AFTER UPDATE OF password_hash ON users
      BEGIN INSERT INTO audit_log (at, event, details) VALUES (0, 'password_changed', json_object('h', NEW.password_hash)); END`);
    const before = liveState();
    const restore = await gatehouse(liveDir, ['restore', file], { secrets: Object.values(sourceSecrets) });
    expect(restore.code).to.equal(1);
    expect(restore.stderr).to.contain('unexpected trigger "audit_password_copy" on table "users"');
    expect(liveState()).to.deep.equal(before);
    const check = await gatehouse(liveDir, ['db', 'check', file], { secrets: Object.values(sourceSecrets) });
    expect(check.code).to.equal(1);
    expect(check.stderr).to.contain('schema: unexpected trigger "audit_password_copy" on table "users"');
  });

  it('refuses an added view, index or table, naming each', () => {
    expectRefused(tampered('CREATE VIEW password_hashes AS SELECT username, password_hash FROM users'), ['view "password_hashes"']);
    expectRefused(tampered('CREATE INDEX users_by_hash ON users (password_hash)'), ['index "users_by_hash"']);
    expectRefused(tampered('CREATE TABLE notes (text TEXT)'), ['table "notes"']);
    const message = expectRefused(tampered('CREATE TABLE notes (text TEXT); CREATE VIEW v AS SELECT 1'), ['table "notes"', 'view "v"']);
    expect(message).to.contain('migrations');
  });

  it('refuses a table with an extra column or another CHECK, a trigger with another body, and a missing index', () => {
    expectRefused(tampered('ALTER TABLE audit_log ADD COLUMN extra TEXT'), ['altered table "audit_log"']);
    expectRefused(
      tampered(`DROP TABLE setup_tokens;
        CREATE TABLE setup_tokens (token_hash TEXT PRIMARY KEY CHECK (length(token_hash) > 0), created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL, used_at INTEGER) STRICT`),
      ['altered table "setup_tokens"'],
    );
    expectRefused(
      tampered(`DROP TRIGGER throttle_known_ips_forget_deleted_user;
        CREATE TRIGGER throttle_known_ips_forget_deleted_user AFTER DELETE ON users BEGIN DELETE FROM throttle_known_ips; END`),
      ['altered trigger "throttle_known_ips_forget_deleted_user"'],
    );
    expectRefused(tampered('DROP INDEX audit_by_time'), ['missing index "audit_by_time"']);
  });

  it('refuses a trigger hidden under an sqlite_ name written straight into the schema table', () => {
    // SQLite refuses CREATE for such names but runs whatever sqlite_schema holds, so only
    // the objects SQLite itself makes may be skipped, not every sqlite_ name.
    const file = tampered(
      `CREATE TRIGGER t AFTER UPDATE OF password_hash ON users BEGIN UPDATE users SET display_name = NEW.password_hash; END;
       PRAGMA writable_schema = ON;
       UPDATE sqlite_schema SET name = 'sqlite_stat9', sql = replace(sql, 'TRIGGER t ', 'TRIGGER sqlite_stat9 ') WHERE name = 't';
       PRAGMA writable_schema = OFF;`,
      { unsafe: true },
    );
    expectRefused(file, ['trigger "sqlite_stat9"']);
  });

  it('takes only the known keys from the stored secrets: an unknown one is left out and reported', () => {
    const withExtra = { ...sourceSecrets, adminPassword: 'hunter2-hunter2' };
    const file = tampered(`UPDATE gatehouse_backup SET value = '${JSON.stringify(withExtra)}' WHERE key = 'secrets'`);
    const dataDir = dir();
    const lines = runRestore(testConfig(dataDir), file);
    const written = JSON.parse(readFileSync(join(dataDir, 'secrets.json'), 'utf8')) as Record<string, unknown>;
    expect(written).to.deep.equal(sourceSecrets);
    expect(lines.join('\n')).to.contain('"adminPassword"').and.contain('left out').and.not.contain('hunter2');
  });

  it('refuses stored secrets with a malformed second-factor key or cookie key, or that are not a JSON object', () => {
    const bad = (secrets: unknown) => tampered(`UPDATE gatehouse_backup SET value = '${JSON.stringify(secrets)}' WHERE key = 'secrets'`);
    for (const [file, name] of [
      [bad({ ...sourceSecrets, twoFactorKey: 'not-a-key' }), 'twoFactorKey'],
      [bad({ ...sourceSecrets, twoFactorKey: 42 }), 'twoFactorKey'],
      [bad({ ...sourceSecrets, cookieSecret: 'short' }), 'cookieSecret'],
      [bad(['a list']), 'secrets'],
      [tampered(`UPDATE gatehouse_backup SET value = '{"cookieSecret":' WHERE key = 'secrets'`), 'secrets'],
    ] as const) {
      const before = liveState();
      expect(() => restoreDatabase(liveDir, file)).to.throw(name);
      expect(liveState()).to.deep.equal(before);
      const report = checkDatabaseFile(file);
      expect(report.ok).to.equal(false);
      expect(report.secrets.join('\n')).to.contain(name);
    }
  });

  it('restores a backup from an older version (fewer migrations) and brings it to the current schema', () => {
    const migrations = readMigrations();
    const older = Math.max(1, migrations.length - 2);
    const file = join(dir(), 'older.db');
    const db = new Database(file);
    migrate(db, migrations.slice(0, older));
    db.close();
    expect(checkDatabaseFile(file).ok, 'db check accepts it').to.equal(true);
    const dataDir = dir();
    const result = restoreDatabase(dataDir, file);
    expect(result.schemaVersion).to.equal(migrations.length);
    expect(checkDatabaseFile(databasePath(dataDir)).ok).to.equal(true);

    // Compared with what the migrations of *its* version create: an addition is still refused.
    const added = join(dir(), 'older-added.db');
    copyFileSync(file, added);
    const raw = new Database(added);
    raw.exec('CREATE VIEW everyone AS SELECT * FROM users');
    raw.close();
    expectRefused(added, ['view "everyone"']);
  });

  it('db check of the live database names an object added to it, and backup refuses to copy it', async () => {
    const app = await startApp({ dataDir: dir() });
    await app.close({ remove: false });
    expect(runDbCheck(testConfig(app.dataDir)).join('\n')).to.contain('schema: only what the migrations create');
    const raw = new Database(databasePath(app.dataDir));
    raw.exec('CREATE TRIGGER copy_hash AFTER UPDATE ON users BEGIN SELECT 1; END');
    raw.close();
    expect(() => runDbCheck(testConfig(app.dataDir))).to.throw('schema: unexpected trigger "copy_hash" on table "users"');
    let refused = '';
    await backupDatabase(app.dataDir, join(dir(), 'b.db')).catch((err: Error) => (refused = err.message));
    expect(refused).to.contain('unexpected trigger "copy_hash"');
  });

  it('refuses a backup from a newer gatehouse', () => {
    const file = tampered(`INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES (${readMigrations().length + 1}, 'future', 'x', 0)`);
    const before = liveState();
    expect(() => restoreDatabase(liveDir, file)).to.throw('newer than this gatehouse');
    expect(liveState()).to.deep.equal(before);
  });
});
