// Noticing another process's writes: data_version polled at most once per interval.

import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import { ExternalChanges } from '../../../src/db/change-watcher.js';
import { openDatabase, type Db } from '../../../src/db/connection.js';
import { tempDir } from '../../support/harness.js';

describe('external change watcher', () => {
  let dir: string;
  let server: Db;
  let cli: Db;
  beforeEach(() => {
    dir = tempDir();
    server = openDatabase(join(dir, 'g.db'));
    server.exec('CREATE TABLE t (x INTEGER)');
    cli = openDatabase(join(dir, 'g.db'));
  });
  afterEach(() => {
    server.close();
    cli.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('tells subscribers about a commit by another connection, not about its own', () => {
    const changes = new ExternalChanges(server, 0);
    let told = 0;
    changes.subscribe(() => (told += 1));
    server.prepare('INSERT INTO t VALUES (1)').run();
    changes.poll();
    expect(told).to.equal(0);
    cli.prepare('INSERT INTO t VALUES (2)').run();
    changes.poll();
    expect(told).to.equal(1);
    changes.poll();
    expect(told).to.equal(1);
  });

  it('under load reads data_version at most once per interval, and at once after a quiet spell', async () => {
    const changes = new ExternalChanges(server, 50);
    let told = 0;
    changes.subscribe(() => (told += 1));
    changes.poll(); // a request: reads now
    cli.prepare('INSERT INTO t VALUES (1)').run();
    changes.poll(); // within the interval: not read yet
    expect(told).to.equal(0);
    await new Promise((r) => setTimeout(r, 60));
    changes.poll(); // the interval has passed: read, and noticed
    expect(told).to.equal(1);
  });
});
