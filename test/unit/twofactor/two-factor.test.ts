// The two-factor facade: whether a user has a second factor, one sign-in check for TOTP or
// recovery code, and a reset that removes everything.

import { expect } from 'chai';
import { STEP, codeAt, enroll, world, wrongCode, type World } from './support.js';
import { recentAudit } from '../../support/audit.js';

describe('two-factor (facade)', () => {
  let w: World;
  beforeEach(async () => {
    w = await world();
  });
  afterEach(() => w.close());

  it('reports the status: none, pending, active with codes and a lock', async () => {
    expect(w.ctx.twoFactor.status(w.alice.id)).to.deep.equal({ enabled: false, totp: 'none', recoveryCodesRemaining: 0, passkeys: [], lockedUntil: null });
    const secret = await enroll(w);
    w.ctx.twoFactor.recoveryCodes.generate(w.alice, 'user:alice');
    for (let i = 0; i < w.ctx.config.throttle.max_failures_per_user; i++) w.ctx.twoFactor.verify(w.alice, wrongCode(secret, w.clock.now()), '192.0.2.1');
    expect(w.ctx.twoFactor.status(w.alice.id)).to.deep.equal({ enabled: true, totp: 'active', recoveryCodesRemaining: 10, passkeys: [], lockedUntil: w.clock.now() + 15 * 60_000 });
  });

  it('verify() takes six digits as a TOTP code and the other shape as a recovery code', async () => {
    const secret = await enroll(w);
    const [code = ''] = w.ctx.twoFactor.recoveryCodes.generate(w.alice, 'user:alice');
    expect(w.ctx.twoFactor.verify(w.alice, codeAt(secret, w.clock.now()), '192.0.2.1')).to.deep.equal({ ok: true, method: 'totp' });
    expect(w.ctx.twoFactor.verify(w.alice, code.toUpperCase(), '192.0.2.1')).to.deep.equal({ ok: true, method: 'recovery-code', remaining: 9 });
    expect(w.ctx.twoFactor.verify(w.alice, 'nonsense', '192.0.2.1')).to.deep.equal({ ok: false, reason: 'invalid' });
  });

  it('reset removes the authenticator, the recovery codes and the lock, and is audited', async () => {
    const secret = await enroll(w);
    const codes = w.ctx.twoFactor.recoveryCodes.generate(w.alice, 'user:alice');
    for (let i = 0; i < w.ctx.config.throttle.max_failures_per_user; i++) w.ctx.twoFactor.verify(w.alice, wrongCode(secret, w.clock.now()), '192.0.2.1');
    expect(w.ctx.twoFactor.reset(w.alice, 'admin:root', '192.0.2.5')).to.deep.equal({ totp: true, recoveryCodes: 10, passkeys: 0, sessionsRevoked: 0 });
    expect(w.ctx.twoFactor.status(w.alice.id)).to.deep.equal({ enabled: false, totp: 'none', recoveryCodesRemaining: 0, passkeys: [], lockedUntil: null });
    w.clock.advance(STEP);
    expect(w.ctx.twoFactor.verify(w.alice, codeAt(secret, w.clock.now()), '192.0.2.1').ok).to.equal(false);
    expect(w.ctx.twoFactor.verify(w.alice, codes[1] ?? '', '192.0.2.1').ok).to.equal(false);
    for (const table of ['totp_authenticators', 'recovery_codes']) {
      expect(w.ctx.db.prepare(`SELECT count(*) FROM ${table} WHERE user_id = ?`).pluck().get(w.alice.id), table).to.equal(0);
    }
    expect(recentAudit(w.ctx, 1, 'second-factor-reset')[0]).to.deep.include({
      username: 'alice',
      ip: '192.0.2.5',
      details: { by: 'admin:root', totp: true, recovery_codes: 10, passkeys: 0, sessions_revoked: 0 },
    });
    // Enrolling afterwards starts from nothing.
    await enroll(w);
    expect(w.ctx.twoFactor.status(w.alice.id).recoveryCodesRemaining).to.equal(0);
  });

  it('reset also removes a pending enrollment', async () => {
    await w.ctx.twoFactor.totp.begin(w.alice);
    expect(w.ctx.twoFactor.reset(w.alice, 'cli')).to.deep.equal({ totp: true, recoveryCodes: 0, passkeys: 0, sessionsRevoked: 0 });
    expect(w.ctx.twoFactor.totp.state(w.alice.id)).to.equal('none');
  });

  it('goes with the user: deleting the account deletes its second factors', async () => {
    await enroll(w);
    w.ctx.twoFactor.recoveryCodes.generate(w.alice, 'user:alice');
    w.ctx.twoFactor.verify(w.alice, '000000', '192.0.2.1');
    w.ctx.accounts.delete('alice', 'test');
    for (const table of ['totp_authenticators', 'recovery_codes', 'second_factor_failures']) {
      expect(w.ctx.db.prepare(`SELECT count(*) FROM ${table}`).pluck().get(), table).to.equal(0);
    }
  });

  it('audits the enrollment steps and never a secret or code', async () => {
    const secret = await enroll(w);
    const code = codeAt(secret, w.clock.now());
    w.ctx.twoFactor.verify(w.alice, code, '192.0.2.1');
    const events = recentAudit(w.ctx, 20).map((e) => e.event);
    expect(events).to.include.members(['totp-enrollment-started', 'totp-enrolled', 'totp-accepted']);
    const all = JSON.stringify(recentAudit(w.ctx, 50));
    expect(all).not.to.include(secret);
    expect(all).not.to.include(code);
  });
});
