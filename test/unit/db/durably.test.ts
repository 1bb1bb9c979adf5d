// Commits that end sessions are fsynced (synchronous = FULL); everything else keeps NORMAL.

import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import { durably, openDatabase, type Db } from '../../../src/db/connection.js';
import { tempDir } from '../../support/harness.js';

const FULL = 2;
const NORMAL = 1;

describe('durable commits', () => {
  let dir: string;
  let db: Db;
  const level = () => db.pragma('synchronous', { simple: true }) as number;
  beforeEach(() => {
    dir = tempDir();
    db = openDatabase(join(dir, 'test.db'));
    db.exec('CREATE TABLE t (x INTEGER)');
  });
  afterEach(() => {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('commits with synchronous = FULL and goes back to NORMAL, also when the work throws', () => {
    expect(level()).to.equal(NORMAL);
    const seen = durably(db, () => {
      db.prepare('INSERT INTO t VALUES (1)').run();
      return level();
    });
    expect(seen).to.equal(FULL);
    expect(level()).to.equal(NORMAL);
    expect(() =>
      durably(db, () => {
        throw new Error('boom');
      }),
    ).to.throw('boom');
    expect(level()).to.equal(NORMAL);
  });

  it('inside a transaction leaves the setting to the outermost caller (it would not reach the commit)', () => {
    const seen = db.transaction(() => durably(db, () => level()))();
    expect(seen).to.equal(NORMAL);
    const outer = durably(db, db.transaction(() => durably(db, () => level())));
    expect(outer).to.equal(FULL);
  });
});
