// `gatehouse backup`, `restore` and `db check` through the real CLI process: an online
// backup under write load, a restore round-trip with the cookie key, refusals.

import { issue } from '../../support/session-store.js';
import { existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { expect } from 'chai';
import type { SessionData } from 'express-session';
import { databasePath } from '../../../src/db/connection.js';
import { Browser } from '../../support/browser.js';
import { buildOnce, gatehouse } from '../../support/cli.js';
import { addUser, GOOD_PASSWORD, startApp, tempDir } from '../../support/harness.js';

function openCopy(file: string): Database.Database {
  return new Database(file, { readonly: true, fileMustExist: true });
}

function sessionData(userId: number): SessionData {
  return {
    cookie: { originalMaxAge: 3_600_000, expires: new Date(Date.now() + 3_600_000), httpOnly: true, path: '/' },
    passport: { user: userId },
    auth: { at: Date.now(), ip: '127.0.0.1', userAgent: 'backup test', remember: false },
  } as unknown as SessionData;
}

describe('backup, restore and db check (CLI)', function () {
  this.timeout(60_000);
  const dirs: string[] = [];
  const dir = () => {
    const d = tempDir('gatehouse-backup-');
    dirs.push(d);
    return d;
  };
  before(buildOnce);
  after(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('takes a backup while the server keeps writing; the file opens, passes the integrity check and holds the rows', async () => {
    const app = await startApp({ dataDir: dir() });
    const out = dir();
    try {
      const user = await addUser(app.ctx, 'pat');
      let written = 0;
      let writing = true;
      // Sessions written by the server's own connection the whole time the backup runs.
      const writer = (async () => {
        while (writing) {
          for (let i = 0; i < 20; i++) {
            void issue(app.ctx.sessions, `load-${written}-session-id-xxxxxxxxxxxx`, sessionData(user.id));
            written += 1;
          }
          await new Promise((r) => setImmediate(r));
        }
      })();
      await new Promise((r) => setTimeout(r, 50));
      const before = written;
      const file = join(out, 'gatehouse-backup.db');
      const result = await gatehouse(app.dataDir, ['backup', file], { secrets: [app.ctx.secrets.cookieSecret, app.ctx.secrets.twoFactorKey] });
      const during = written;
      writing = false;
      await writer;
      expect(result.code, result.stderr).to.equal(0);
      expect(result.stdout).to.contain(`backup written to ${file}`);
      expect(during - before, 'the server wrote while the backup ran').to.be.greaterThan(0);

      expect(statSync(file).mode & 0o777).to.equal(0o600);
      expect(existsSync(`${file}-wal`)).to.equal(false);
      expect(readdirSync(out)).to.deep.equal(['gatehouse-backup.db']); // no temporary file left
      const copy = openCopy(file);
      try {
        expect(copy.pragma('integrity_check', { simple: true })).to.equal('ok');
        expect(copy.pragma('foreign_key_check')).to.deep.equal([]);
        expect(copy.pragma('journal_mode', { simple: true })).to.equal('delete');
        const sessions = copy.prepare('SELECT count(*) FROM sessions WHERE user_id = ?').pluck().get(user.id) as number;
        expect(sessions).to.be.at.least(before).and.at.most(during);
        expect(copy.prepare('SELECT username FROM users').pluck().all()).to.deep.equal(['pat']);
        const meta = Object.fromEntries((copy.prepare('SELECT key, value FROM gatehouse_backup').all() as Array<{ key: string; value: string }>).map((r) => [r.key, r.value]));
        expect(meta.format).to.equal('gatehouse-backup-1');
        expect(JSON.parse(meta.secrets ?? '{}')).to.deep.equal({ cookieSecret: app.ctx.secrets.cookieSecret, twoFactorKey: app.ctx.secrets.twoFactorKey });
        expect(Number(meta.schema_version)).to.be.greaterThan(0);
      } finally {
        copy.close();
      }

      // The same check through the CLI, on the backup file.
      const check = await gatehouse(app.dataDir, ['db', 'check', file]);
      expect(check.code, check.stderr).to.equal(0);
      expect(check.stdout).to.contain('integrity check: ok');
    } finally {
      await app.close();
    }
  });

  it('does not overwrite an existing file unless --force', async () => {
    const app = await startApp({ dataDir: dir() });
    try {
      const file = join(dir(), 'b.db');
      writeFileSync(file, 'keep me');
      const refused = await gatehouse(app.dataDir, ['backup', file]);
      expect(refused.code).to.equal(1);
      expect(refused.stderr).to.contain('already exists').and.contain('--force');
      const forced = await gatehouse(app.dataDir, ['backup', '--force', file]);
      expect(forced.code, forced.stderr).to.equal(0);
      const copy = openCopy(file);
      expect(copy.pragma('integrity_check', { simple: true })).to.equal('ok');
      copy.close();
      const missing = await gatehouse(app.dataDir, ['backup', join(dir(), 'no', 'such', 'dir.db')]);
      expect(missing.code).to.equal(1);
      expect(missing.stderr).to.contain('does not exist');
      // Not even --force replaces gatehouse's own files: the database, its WAL, the cookie key.
      const key = readFileSync(join(app.dataDir, 'secrets.json'), 'utf8');
      for (const own of ['gatehouse.db', 'gatehouse.db-wal', 'secrets.json', 'secrets.json.bak']) {
        const res = await gatehouse(app.dataDir, ['backup', '--force', join(app.dataDir, own)]);
        expect(res.code, own).to.equal(2);
        expect(res.stderr, own).to.contain("gatehouse's own files");
      }
      expect(readFileSync(join(app.dataDir, 'secrets.json'), 'utf8')).to.equal(key);
    } finally {
      await app.close();
    }
  });

  it('restores a backup: users, sessions and the cookie key come back, the replaced database is kept as .bak', async () => {
    const dataDir = dir();
    const file = join(dir(), 'backup.db');
    let app = await startApp({ dataDir });
    await addUser(app.ctx, 'pat');
    const browser = new Browser(app.url);
    expect((await browser.login('pat', GOOD_PASSWORD)).status).to.equal(303);
    const cookies = new Map(browser.cookies);
    const secret = app.ctx.secrets.cookieSecret;
    const twoFactorKey = app.ctx.secrets.twoFactorKey;
    expect((await gatehouse(dataDir, ['backup', file])).code).to.equal(0);

    // Restore refuses while the server has the database open, and changes nothing.
    const busy = await gatehouse(dataDir, ['restore', file]);
    expect(busy.code).to.equal(1);
    expect(busy.stderr).to.contain('in use').and.contain('stop the gatehouse server');
    await addUser(app.ctx, 'sam');
    await app.close({ remove: false });

    // A lost data dir: a new cookie key, the later user is there, pat's session is not.
    rmSync(join(dataDir, 'secrets.json'));
    const restore = await gatehouse(dataDir, ['restore', file], { secrets: [secret, twoFactorKey] });
    expect(restore.code, restore.stderr).to.equal(0);
    expect(restore.stdout).to.contain('kept as').and.contain('cookie key');
    const kept = readdirSync(dataDir).filter((f) => f.endsWith('.bak'));
    expect(kept.some((f) => f.startsWith('gatehouse.db.'))).to.equal(true);
    const old = openCopy(join(dataDir, kept.find((f) => f.startsWith('gatehouse.db.')) as string));
    expect(old.prepare('SELECT username FROM users ORDER BY username').pluck().all()).to.deep.equal(['pat', 'sam']);
    old.close();
    expect(statSync(databasePath(dataDir)).mode & 0o777).to.equal(0o600);

    app = await startApp({ dataDir });
    try {
      expect(app.ctx.secrets.cookieSecret).to.equal(secret);
      expect(app.ctx.secrets.twoFactorKey, 'second factors stay readable').to.equal(twoFactorKey);
      expect(app.ctx.users.list().map((u) => u.username)).to.deep.equal(['pat']);
      expect(app.ctx.db.prepare("SELECT count(*) FROM sqlite_master WHERE name = 'gatehouse_backup'").pluck().get()).to.equal(0);
      const again = new Browser(app.url);
      for (const [k, v] of cookies) again.cookies.set(k, v);
      const home = await again.get('/');
      expect(home.status, 'the session from the backup works again').to.equal(200);
      expect(home.text).to.contain('pat');
    } finally {
      await app.close();
    }
  });

  it('restore refuses files that are not a sound gatehouse database', async () => {
    const dataDir = dir();
    const app = await startApp({ dataDir });
    await app.close({ remove: false });
    const other = dir();
    const garbage = join(other, 'garbage.db');
    writeFileSync(garbage, 'this is not a database'.repeat(100));
    const notDb = await gatehouse(dataDir, ['restore', garbage]);
    expect(notDb.code).to.equal(1);
    expect(notDb.stderr).to.contain('cannot be read as an SQLite database');

    const foreign = join(other, 'foreign.db');
    const db = new Database(foreign);
    db.exec('CREATE TABLE notes (text TEXT)');
    db.close();
    const notOurs = await gatehouse(dataDir, ['restore', foreign]);
    expect(notOurs.code).to.equal(1);
    expect(notOurs.stderr).to.contain('not a gatehouse database');

    const missing = await gatehouse(dataDir, ['restore', join(other, 'none.db')]);
    expect(missing.code).to.equal(1);
    expect(missing.stderr).to.contain('does not exist');
    expect(readdirSync(dataDir).filter((f) => f.endsWith('.bak'))).to.deep.equal([]);
  });

  it('db check says ok for a sound database and lists problems with exit 1 otherwise', async () => {
    const dataDir = dir();
    const app = await startApp({ dataDir });
    try {
      await addUser(app.ctx, 'pat');
      const ok = await gatehouse(dataDir, ['db', 'check']);
      expect(ok.code, ok.stderr).to.equal(0);
      expect(ok.stdout).to.contain('integrity check: ok').and.contain('foreign keys: ok');

      // A session pointing at a user that does not exist (written with the checks off).
      const raw = new Database(databasePath(dataDir));
      raw.pragma('foreign_keys = OFF');
      raw.prepare(
        `INSERT INTO sessions (id_hash, user_id, data, created_at, last_seen_at, idle_timeout_ms, idle_expires_at, absolute_expires_at)
         VALUES (?, 999, '{}', 0, 0, 1000, 1000, 1000)`,
      ).run('d'.repeat(64));
      raw.close();
      const bad = await gatehouse(dataDir, ['db', 'check']);
      expect(bad.code).to.equal(1);
      expect(bad.stderr).to.contain('foreign key: sessions row').and.contain('problem(s)');
    } finally {
      await app.close();
    }
  });
});
