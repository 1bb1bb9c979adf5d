// The cookie signing key: generated on first run into the data dir with mode 0600, reused
// afterwards, never a built-in constant.

import { chmodSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import { loadOrCreateSecrets } from '../../../src/config/secrets.js';
import { tempDir } from '../../support/harness.js';

describe('secrets', () => {
  let dir: string;
  beforeEach(() => {
    dir = tempDir('gatehouse-secrets-');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('generates a long random cookie key into secrets.json with mode 0600', () => {
    const secrets = loadOrCreateSecrets(dir);
    expect(secrets.cookieSecret).to.have.length.greaterThanOrEqual(48);
    const file = join(dir, 'secrets.json');
    expect(statSync(file).mode & 0o777).to.equal(0o600);
    expect(JSON.parse(readFileSync(file, 'utf8')).cookieSecret).to.equal(secrets.cookieSecret);
  });

  it('reuses the key on the next start and differs between installations', () => {
    const first = loadOrCreateSecrets(dir).cookieSecret;
    expect(loadOrCreateSecrets(dir).cookieSecret).to.equal(first);
    const other = tempDir('gatehouse-secrets-');
    try {
      expect(loadOrCreateSecrets(other).cookieSecret).to.not.equal(first);
    } finally {
      rmSync(other, { recursive: true, force: true });
    }
  });

  it('tightens a key file whose permissions were loosened by hand', () => {
    loadOrCreateSecrets(dir);
    const file = join(dir, 'secrets.json');
    chmodSync(file, 0o644);
    loadOrCreateSecrets(dir);
    expect(statSync(file).mode & 0o777).to.equal(0o600);
  });

  it('replaces a key that is too short and refuses a file that is not JSON', () => {
    const file = join(dir, 'secrets.json');
    writeFileSync(file, JSON.stringify({ cookieSecret: 'short' }), { mode: 0o600 });
    expect(loadOrCreateSecrets(dir).cookieSecret).to.have.length.greaterThanOrEqual(48);
    writeFileSync(file, 'not json', { mode: 0o600 });
    expect(() => loadOrCreateSecrets(dir)).to.throw(/secrets\.json/);
    for (const bad of ['[]', 'null', '"text"']) {
      writeFileSync(file, bad, { mode: 0o600 });
      expect(() => loadOrCreateSecrets(dir), bad).to.throw(/fix or remove it/);
    }
  });
});
