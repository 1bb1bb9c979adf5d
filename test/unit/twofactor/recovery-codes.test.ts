// Recovery codes: ten random single-use codes, shown once, regenerated as a set, checked
// case- and dash-insensitively, counted on the same per-user limit as TOTP codes.

import { expect } from 'chai';
import { normalizeRecoveryCode } from '../../../src/twofactor/recovery-codes.js';
import { world, type World } from './support.js';
import { recentAudit } from '../../support/audit.js';

describe('recovery codes', () => {
  let w: World;
  beforeEach(async () => {
    w = await world();
  });
  afterEach(() => w.close());

  const rc = () => w.ctx.twoFactor.recoveryCodes;
  const use = (code: string) => rc().consume(w.alice, code, '192.0.2.20');

  it('generates ten distinct xxxxx-xxxxx codes from an unambiguous alphabet', () => {
    const codes = rc().generate(w.alice, 'user:alice');
    expect(codes).to.have.length(10);
    expect(new Set(codes).size).to.equal(10);
    for (const code of codes) expect(code).to.match(/^[0-9a-hjkmnp-tv-z]{5}-[0-9a-hjkmnp-tv-z]{5}$/);
    expect(rc().remaining(w.alice.id)).to.equal(10);
    expect(recentAudit(w.ctx, 1, 'recovery-codes-generated')[0]?.details).to.deep.equal({ by: 'user:alice', count: 10, replaced: 0 });
  });

  it('accepts each code once, audits the use with the count left', () => {
    const [code = ''] = rc().generate(w.alice, 'user:alice');
    expect(use(code)).to.deep.equal({ ok: true, method: 'recovery-code', remaining: 9 });
    expect(use(code)).to.deep.equal({ ok: false, reason: 'invalid' });
    expect(rc().remaining(w.alice.id)).to.equal(9);
    const used = recentAudit(w.ctx, 5, 'recovery-code-used');
    expect(used).to.have.length(1);
    expect(used[0]).to.deep.include({ username: 'alice', ip: '192.0.2.20', details: { remaining: 9 } });
    expect(JSON.stringify(recentAudit(w.ctx, 20))).not.to.include(code.replace('-', '').slice(0, 8));
  });

  it('reads input case- and dash-insensitively, with o/i/l taken as 0/1', () => {
    const codes = rc().generate(w.alice, 'user:alice');
    const [a = '', b = '', c = ''] = codes;
    expect(use(a.toUpperCase()).ok).to.equal(true);
    expect(use(` ${b.replace('-', '')} `).ok).to.equal(true);
    expect(use(c.replace('-', ' - ')).ok).to.equal(true);
    expect(normalizeRecoveryCode('ABCDE-FGHJK')).to.equal('abcdefghjk');
    expect(normalizeRecoveryCode('0oOiI-lL111')).to.equal('0001111111');
    for (const bad of ['', 'abcde-fghj', 'abcde-fghjkm', 'abcde-fghju', 'abcde_fghjk', 'x'.repeat(1000)]) expect(normalizeRecoveryCode(bad), bad).to.equal(null);
  });

  it('regenerating kills every old code, used or not', () => {
    const old = rc().generate(w.alice, 'user:alice');
    expect(use(old[0] ?? '').ok).to.equal(true);
    const fresh = rc().generate(w.alice, 'user:alice');
    for (const code of old) {
      expect(use(code), code).to.deep.equal({ ok: false, reason: 'invalid' });
      w.ctx.twoFactor.limiter.clear(w.alice.id); // ten failures would lock the step; not what this test is about
    }
    expect(rc().remaining(w.alice.id)).to.equal(10);
    expect(use(fresh[0] ?? '').ok).to.equal(true);
    expect(recentAudit(w.ctx, 1, 'recovery-codes-generated')[0]?.details).to.include({ replaced: 9 });
  });

  it("belong to their user: alice's code does not work for bob", async () => {
    const bob = await w.ctx.accounts.create({ username: 'bob', password: 'correct horse battery staple', groups: [], by: 'test' });
    const [code = ''] = rc().generate(w.alice, 'user:alice');
    rc().generate(bob, 'user:bob');
    expect(rc().consume(bob, code, '192.0.2.21').ok).to.equal(false);
    expect(use(code).ok).to.equal(true);
  });

  it('wrong codes count on the per-user limit: then even a right code is refused until the lock passes', () => {
    const [code = ''] = rc().generate(w.alice, 'user:alice');
    for (let i = 0; i < w.ctx.config.throttle.max_failures_per_user; i++) expect(use('aaaaa-aaaaa').ok).to.equal(false);
    expect(use(code)).to.deep.include({ ok: false, reason: 'throttled', retryAfter: 900 });
    expect(rc().remaining(w.alice.id)).to.equal(10, 'a refused attempt does not use the code up');
    w.clock.advance(15 * 60_000);
    expect(use(code).ok).to.equal(true);
  });
});
