// The schema comparison behind restore and `db check`: SQL compared token for token (layout
// and comments aside), SQLite's own statistics tables allowed, migration records checked.

import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import { openDatabase, type Db } from '../../../src/db/connection.js';
import { migrate, readMigrations } from '../../../src/db/migrate.js';
import { normaliseSql, schemaDifferences, shownName } from '../../../src/db/schema-check.js';
import { tempDir } from '../../support/harness.js';

describe('schema check', () => {
  const migrations = readMigrations();
  let dir: string;
  let db: Db;
  beforeEach(() => {
    dir = tempDir('gatehouse-schema-');
    db = openDatabase(join(dir, 'gatehouse.db'));
    migrate(db, migrations);
  });
  afterEach(() => {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('compares SQL regardless of layout and comments, but not across a comment that hides a column', () => {
    expect(normaliseSql('CREATE TABLE t (\n  a INT, -- why\n  b INT /* note */\n)')).to.equal('CREATE TABLE t ( a INT, b INT )');
    // Squeezing whitespace alone would make these equal, though the second has no column y.
    expect(normaliseSql('x INT, -- note\ny INT')).to.not.equal(normaliseSql('x INT, -- note y INT'));
    expect(normaliseSql("CHECK (a <> 'a  b')")).to.not.equal(normaliseSql("CHECK (a <> 'a b')"));
    expect(normaliseSql("DEFAULT 'it''s -- not a comment'  ")).to.equal("DEFAULT 'it''s -- not a comment'");
    expect(normaliseSql('"a  b" [c  d] `e  f`')).to.equal('"a  b" [c  d] `e  f`');
  });

  it('accepts a database made by the migrations, also after ANALYZE added SQLite statistics tables', () => {
    expect(schemaDifferences(db, migrations.length, migrations)).to.deep.equal([]);
    db.exec('ANALYZE');
    expect(db.prepare("SELECT count(*) FROM sqlite_schema WHERE name LIKE 'sqlite_stat%'").pluck().get()).to.be.greaterThan(0);
    expect(schemaDifferences(db, migrations.length, migrations)).to.deep.equal([]);
  });

  it('refuses migration records that are missing or are not this gatehouse’s migrations', () => {
    db.prepare("UPDATE schema_migrations SET checksum = 'edited' WHERE version = 2").run();
    db.prepare('DELETE FROM schema_migrations WHERE version = 1').run();
    const problems = schemaDifferences(db, migrations.length, migrations);
    expect(problems).to.include(`schema_migrations: version 2 is not this gatehouse's migration 2_${migrations[1]?.name}`);
    expect(problems).to.include('schema_migrations: version 1 is missing');
  });

  it('names objects as quoted printable text, whatever the file calls them', () => {
    expect(shownName('audit_copy')).to.equal('"audit_copy"');
    expect(shownName('x\u001b[31m"\u009b')).to.equal('"x\\u001b[31m\\"\\u009b"');
    expect(shownName('n'.repeat(100))).to.have.length(63);
  });
});
