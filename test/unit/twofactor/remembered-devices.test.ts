// The remembered-devices domain: a token returned once and stored only as SHA-256, good for
// one user until it expires or is revoked; anything else in a cookie is simply "no".

import { createHash } from 'node:crypto';
import { expect } from 'chai';
import { RememberedDevices } from '../../../src/twofactor/remembered-devices.js';
import { addUser } from '../../support/harness.js';
import { world, type World } from './support.js';
import { recentAudit } from '../../support/audit.js';

const DAY = 86_400_000;

describe('remembered devices', () => {
  let w: World;
  let devices: RememberedDevices;
  beforeEach(async () => {
    w = await world();
    devices = new RememberedDevices(w.ctx.db, w.clock, w.ctx.audit);
  });
  afterEach(() => w.close());

  it('create returns a 256-bit token; only its SHA-256 is stored', () => {
    const { token, expiresAt } = devices.create(w.alice.id, 30 * DAY, { userAgent: 'Phone', ip: '192.168.1.5' });
    expect(token).to.match(/^[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(token, 'base64url')).to.have.length(32);
    expect(expiresAt).to.equal(w.clock.now() + 30 * DAY);
    const rows = w.ctx.db.prepare('SELECT * FROM remembered_devices').all();
    expect(JSON.stringify(rows)).not.to.contain(token);
    expect(rows[0]).to.include({ token_hash: createHash('sha256').update(token).digest('hex'), user_agent: 'Phone', ip: '192.168.1.5' });
    expect(devices.create(w.alice.id, DAY).token).not.to.equal(token);
  });

  it('check: true for the user and token, false for another user, junk, expired or revoked', async () => {
    const bob = await addUser(w.ctx, 'bob');
    const { token, id } = devices.create(w.alice.id, DAY);
    expect(devices.check(w.alice.id, token)).to.equal(true);
    expect(devices.check(bob.id, token)).to.equal(false);
    for (const junk of [undefined, null, 42, '', 'short', `${token}x`, token.toUpperCase() === token ? token.toLowerCase() : token.toUpperCase(), { token }]) {
      expect(devices.check(w.alice.id, junk)).to.equal(false);
    }
    expect(devices.list(w.alice.id)[0]?.lastUsedAt).to.equal(w.clock.now());

    w.clock.advance(DAY);
    expect(devices.check(w.alice.id, token)).to.equal(false);
    expect(devices.list(w.alice.id)).to.deep.equal([]);

    const second = devices.create(w.alice.id, DAY);
    expect(devices.revoke(bob.id, second.id)).to.equal(false);
    expect(devices.revoke(w.alice.id, second.id)).to.equal(true);
    expect(devices.revoke(w.alice.id, second.id)).to.equal(false);
    expect(devices.check(w.alice.id, second.token)).to.equal(false);
    expect(id).to.be.a('number');
  });

  it('list shows live devices, newest first; revokeAll forgets them all with a reason', () => {
    const a = devices.create(w.alice.id, DAY, { userAgent: 'A' });
    w.clock.advance(1000);
    const b = devices.create(w.alice.id, DAY, { userAgent: 'B' });
    expect(devices.list(w.alice.id).map((d) => d.userAgent)).to.deep.equal(['B', 'A']);
    expect(devices.revokeAll(w.alice.id, 'password-changed')).to.equal(2);
    expect(devices.list(w.alice.id)).to.deep.equal([]);
    expect(devices.check(w.alice.id, a.token) || devices.check(w.alice.id, b.token)).to.equal(false);
    expect(w.ctx.db.prepare('SELECT DISTINCT revoke_reason FROM remembered_devices').pluck().all()).to.deep.equal(['password-changed']);
  });

  it('a password change, disabling the account and a second-factor reset revoke them', async () => {
    const mk = () => devices.create(w.alice.id, DAY).token;
    let t = mk();
    await w.ctx.accounts.setPassword('alice', 'a brand new long passphrase', 'alice');
    expect(devices.check(w.alice.id, t)).to.equal(false);
    t = mk();
    w.ctx.twoFactor.reset(w.alice, 'admin');
    expect(devices.check(w.alice.id, t)).to.equal(false);
    t = mk();
    w.ctx.accounts.disable('alice', 'admin');
    expect(devices.check(w.alice.id, t)).to.equal(false);
    expect(w.ctx.db.prepare('SELECT revoke_reason FROM remembered_devices ORDER BY id').pluck().all()).to.deep.equal(['password-changed', 'second-factor-reset', 'user-disabled']);
  });

  it('audits remembering and forgetting by device id, never the token', () => {
    const { token, id } = devices.create(w.alice.id, 30 * DAY, { ip: '192.0.2.4' });
    devices.revoke(w.alice.id, id);
    devices.create(w.alice.id, 30 * DAY);
    devices.revokeAll(w.alice.id, 'password-changed');
    const events = recentAudit(w.ctx, 10).filter((e) => e.event.startsWith('device-'));
    expect(events.map((e) => e.event)).to.deep.equal(['device-forgotten', 'device-remembered', 'device-forgotten', 'device-remembered']);
    expect(events[0]?.details).to.include({ count: 1, reason: 'password-changed' });
    expect(JSON.stringify(events)).not.to.contain(token);
  });
});
