// Second factors at rest: the TOTP secret never reaches the database in any readable form,
// its ciphertext opens only for its own user, and recovery codes are stored as keyed hashes.

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import { Secret } from 'otpauth';
import { SecretBox, SecretBoxError } from '../../../src/twofactor/secret-box.js';
import { randomToken } from '../../../src/lib/crypto.js';
import { codeAt, enroll, world, type World } from './support.js';

describe('second factors at rest', () => {
  let w: World;
  beforeEach(async () => {
    w = await world();
  });
  afterEach(() => w.close());

  /** The database file and its WAL, as bytes (before any checkpoint: fresh writes are in the WAL). */
  const dbBytes = (): Buffer[] =>
    ['gatehouse.db', 'gatehouse.db-wal'].map((f) => join(w.dir, f)).filter(existsSync).map((f) => readFileSync(f));

  it('never writes the TOTP secret (base32, raw bytes, hex) to the database or its WAL', async () => {
    const secret = await enroll(w);
    const raw = Buffer.from(Secret.fromBase32(secret).bytes);
    const files = dbBytes();
    expect(files).to.have.length(2);
    expect(files.reduce((n, b) => n + b.length, 0)).to.be.greaterThan(0);
    for (const bytes of files) {
      expect(bytes.indexOf(raw)).to.equal(-1, 'raw secret bytes');
      expect(bytes.indexOf(Buffer.from(secret, 'latin1'))).to.equal(-1, 'base32');
      expect(bytes.indexOf(Buffer.from(secret.toLowerCase(), 'latin1'))).to.equal(-1, 'base32, lower case');
      expect(bytes.indexOf(Buffer.from(raw.toString('hex'), 'latin1'))).to.equal(-1, 'hex');
      expect(bytes.indexOf(Buffer.from(raw.toString('base64'), 'latin1'))).to.equal(-1, 'base64');
    }
    // The stored form is ciphertext of the same length, with a 96-bit IV and a 128-bit tag.
    const row = w.ctx.db.prepare('SELECT * FROM totp_authenticators WHERE user_id = ?').get(w.alice.id) as Record<string, Buffer>;
    expect(row.secret_ciphertext).to.have.length(20);
    expect(row.secret_iv).to.have.length(12);
    expect(row.secret_tag).to.have.length(16);
    w.ctx.db.pragma('wal_checkpoint(TRUNCATE)');
    for (const bytes of dbBytes()) expect(bytes.indexOf(raw)).to.equal(-1, 'after a checkpoint');
  });

  it('never writes a recovery code, and keeps the key out of the database', async () => {
    const codes = w.ctx.twoFactor.recoveryCodes.generate(w.alice, 'user:alice');
    const key = w.ctx.secrets.twoFactorKey;
    for (const bytes of dbBytes()) {
      for (const code of codes) {
        expect(bytes.indexOf(Buffer.from(code, 'latin1'))).to.equal(-1);
        expect(bytes.indexOf(Buffer.from(code.replace('-', ''), 'latin1'))).to.equal(-1);
      }
      expect(bytes.indexOf(Buffer.from(key, 'latin1'))).to.equal(-1);
      expect(bytes.indexOf(Buffer.from(key, 'base64url'))).to.equal(-1);
    }
    expect(JSON.parse(readFileSync(join(w.dir, 'secrets.json'), 'utf8')).twoFactorKey).to.equal(key);
  });

  it('binds a ciphertext to its user: moved to another user it does not open (and nothing is counted)', async () => {
    const secret = await enroll(w);
    const bob = await w.ctx.accounts.create({ username: 'bob', password: 'correct horse battery staple', groups: [], by: 'test' });
    await enroll(w, bob);
    // Someone with write access to the database copies alice's sealed secret onto bob.
    w.ctx.db
      .prepare(
        `UPDATE totp_authenticators SET (secret_ciphertext, secret_iv, secret_tag) =
         (SELECT secret_ciphertext, secret_iv, secret_tag FROM totp_authenticators WHERE user_id = ?) WHERE user_id = ?`,
      )
      .run(w.alice.id, bob.id);
    expect(() => w.ctx.twoFactor.totp.verify(bob, codeAt(secret, w.clock.now()), '192.0.2.1')).to.throw(SecretBoxError);
    expect(w.ctx.twoFactor.limiter.state(bob.id).failures).to.equal(0);
    expect(w.ctx.twoFactor.totp.verify(w.alice, codeAt(secret, w.clock.now()), '192.0.2.1').ok).to.equal(true);
  });

  it('refuses a tampered ciphertext, IV or tag, and another key', () => {
    const box = new SecretBox(randomToken(32));
    const plain = Buffer.from('12345678901234567890');
    const sealed = box.seal(plain, 7);
    expect(box.open(sealed, 7).equals(plain)).to.equal(true);
    expect(box.seal(plain, 7).iv.equals(sealed.iv)).to.equal(false, 'a fresh IV every time');
    const flip = (b: Buffer) => Buffer.from(b.map((x, i) => (i === 0 ? x ^ 1 : x)));
    expect(() => box.open({ ...sealed, ciphertext: flip(sealed.ciphertext) }, 7)).to.throw(SecretBoxError);
    expect(() => box.open({ ...sealed, iv: flip(sealed.iv) }, 7)).to.throw(SecretBoxError);
    expect(() => box.open({ ...sealed, tag: flip(sealed.tag) }, 7)).to.throw(SecretBoxError);
    expect(() => box.open({ ...sealed, tag: sealed.tag.subarray(0, 4) }, 7)).to.throw(SecretBoxError, undefined, 'a truncated tag');
    expect(() => box.open(sealed, 8)).to.throw(SecretBoxError);
    expect(() => new SecretBox(randomToken(32)).open(sealed, 7)).to.throw(SecretBoxError);
    expect(() => new SecretBox(randomToken(16))).to.throw(RangeError);
  });
});
