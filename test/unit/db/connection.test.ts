// The data dir and database files are private to the service account.

import { chmodSync, mkdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import { createContext } from '../../../src/context.js';
import { databasePath } from '../../../src/db/connection.js';
import { tempDir, testConfig } from '../../support/harness.js';

describe('database files', () => {
  it('tightens an existing, world-readable data dir to 0700 and the database file to 0600', () => {
    const root = tempDir();
    const dataDir = join(root, 'data');
    mkdirSync(dataDir, { mode: 0o755 });
    chmodSync(dataDir, 0o755);
    const ctx = createContext(testConfig(dataDir));
    try {
      expect(statSync(dataDir).mode & 0o777).to.equal(0o700);
      expect(statSync(databasePath(dataDir)).mode & 0o777).to.equal(0o600);
      expect(statSync(join(dataDir, 'secrets.json')).mode & 0o777).to.equal(0o600);
    } finally {
      ctx.close();
      rmSync(root, { recursive: true, force: true });
    }
  });
});
