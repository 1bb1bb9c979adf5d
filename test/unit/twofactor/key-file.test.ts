// The two-factor key in secrets.json: created with the file, added to an existing file
// (keeping the cookie key), never replaced, and the same for processes starting together.

import { execFile } from 'node:child_process';
import { readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { loadOrCreateSecrets } from '../../../src/config/secrets.js';
import { randomToken } from '../../../src/lib/crypto.js';
import { tempDir } from '../../support/harness.js';

const run = promisify(execFile);
const OLD_COOKIE = 'c'.repeat(64);

describe('two-factor key (secrets.json)', () => {
  let dir: string;
  let file: string;
  beforeEach(() => {
    dir = tempDir('gatehouse-2fa-key-');
    file = join(dir, 'secrets.json');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const onDisk = () => JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;

  it('is created with a new secrets.json: 32 random bytes, mode 0600, stable', () => {
    const first = loadOrCreateSecrets(dir);
    expect(Buffer.from(first.twoFactorKey, 'base64url')).to.have.length(32);
    expect(onDisk().twoFactorKey).to.equal(first.twoFactorKey);
    expect(statSync(file).mode & 0o777).to.equal(0o600);
    expect(loadOrCreateSecrets(dir)).to.deep.equal(first);
  });

  it('is added to a secrets.json from before, keeping the cookie key and anything else', () => {
    writeFileSync(file, JSON.stringify({ cookieSecret: OLD_COOKIE, note: 'kept' }), { mode: 0o600 });
    const secrets = loadOrCreateSecrets(dir);
    expect(secrets.cookieSecret).to.equal(OLD_COOKIE);
    expect(onDisk()).to.deep.equal({ cookieSecret: OLD_COOKIE, note: 'kept', twoFactorKey: secrets.twoFactorKey });
    expect(statSync(file).mode & 0o777).to.equal(0o600);
    expect(loadOrCreateSecrets(dir).twoFactorKey).to.equal(secrets.twoFactorKey);
  });

  it('keeps the key when a too-short cookie key is replaced', () => {
    const key = randomToken(32);
    writeFileSync(file, JSON.stringify({ cookieSecret: 'short', twoFactorKey: key }), { mode: 0o600 });
    const secrets = loadOrCreateSecrets(dir);
    expect(secrets.twoFactorKey).to.equal(key);
    expect(secrets.cookieSecret).to.have.length.greaterThanOrEqual(48);
  });

  it('refuses a damaged key rather than replacing it (that would orphan every TOTP secret)', () => {
    for (const bad of ['short', randomToken(31), 42, null]) {
      writeFileSync(file, JSON.stringify({ cookieSecret: OLD_COOKIE, twoFactorKey: bad }), { mode: 0o600 });
      expect(() => loadOrCreateSecrets(dir), String(bad)).to.throw(/twoFactorKey/);
      expect(onDisk().twoFactorKey).to.equal(bad);
    }
  });

  it('clears an update lock left by a crashed process', () => {
    writeFileSync(file, JSON.stringify({ cookieSecret: OLD_COOKIE }), { mode: 0o600 });
    writeFileSync(`${file}.new`, '');
    const old = new Date(Date.now() - 60_000);
    utimesSync(`${file}.new`, old, old);
    expect(loadOrCreateSecrets(dir).cookieSecret).to.equal(OLD_COOKIE);
    expect(onDisk().twoFactorKey).to.be.a('string');
  });

  it('gives processes that add the key at the same moment one and the same key', async () => {
    writeFileSync(file, JSON.stringify({ cookieSecret: OLD_COOKIE }), { mode: 0o600 });
    const module = new URL('../../../src/config/secrets.ts', import.meta.url).href;
    const start = Date.now() + 1500;
    const script = `const { loadOrCreateSecrets } = await import(${JSON.stringify(module)});
      while (Date.now() < ${start});
      process.stdout.write(loadOrCreateSecrets(${JSON.stringify(dir)}).twoFactorKey);`;
    const outputs = await Promise.all(
      Array.from({ length: 4 }, () => run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script]).then((r) => r.stdout)),
    );
    expect(new Set(outputs).size).to.equal(1);
    expect(outputs[0]).to.equal(onDisk().twoFactorKey);
  });
});
