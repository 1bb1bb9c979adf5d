// TOTP: RFC 6238 codes within ±1 step, each step accepted once per user, two-step
// enrollment, a per-user attempt limit, and the secret encrypted at rest.

import { expect } from 'chai';
import { Secret, TOTP } from 'otpauth';
import { STEP, codeAt, enroll, world, wrongCode, type World } from './support.js';
import { recentAudit } from '../../support/audit.js';

describe('TOTP authenticators', () => {
  let w: World;
  beforeEach(async () => {
    w = await world();
  });
  afterEach(() => w.close());

  const verify = (code: string, ip = '192.0.2.10') => w.ctx.twoFactor.totp.verify(w.alice, code, ip);

  describe('enrollment', () => {
    it('begins with an RFC 6238 otpauth URI, a server-rendered SVG QR code and a pending state', async () => {
      const e = await w.ctx.twoFactor.totp.begin(w.alice);
      const parsed = new URL(e.uri);
      expect(parsed.protocol).to.equal('otpauth:');
      expect(parsed.host).to.equal('totp');
      expect(parsed.searchParams.get('secret')).to.equal(e.secret);
      expect(parsed.searchParams.get('issuer')).to.equal('gatehouse');
      expect(parsed.searchParams.get('algorithm')).to.equal('SHA1');
      expect(parsed.searchParams.get('digits')).to.equal('6');
      expect(parsed.searchParams.get('period')).to.equal('30');
      expect(decodeURIComponent(parsed.pathname)).to.include('alice');
      expect(Secret.fromBase32(e.secret).bytes.length).to.equal(20);
      expect(e.qrSvg).to.match(/^<svg[^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/);
      expect(e.qrSvg).not.to.match(/<script|https?:\/\/(?!www\.w3\.org)/i, 'no script, no third-party image');
      expect(w.ctx.twoFactor.totp.state(w.alice.id)).to.equal('pending');
    });

    it('does not count until confirmed: a pending secret neither enables nor verifies', async () => {
      const { secret } = await w.ctx.twoFactor.totp.begin(w.alice);
      expect(w.ctx.twoFactor.isEnabled(w.alice.id)).to.equal(false);
      expect(verify(codeAt(secret, w.clock.now()))).to.deep.equal({ ok: false, reason: 'invalid' });
      expect(w.ctx.twoFactor.totp.confirm(w.alice, wrongCode(secret, w.clock.now()))).to.deep.equal({ ok: false, reason: 'invalid' });
      expect(w.ctx.twoFactor.isEnabled(w.alice.id)).to.equal(false);
      expect(w.ctx.twoFactor.totp.confirm(w.alice, codeAt(secret, w.clock.now()))).to.deep.equal({ ok: true });
      expect(w.ctx.twoFactor.isEnabled(w.alice.id)).to.equal(true);
      expect(w.ctx.twoFactor.totp.state(w.alice.id)).to.equal('active');
      expect(recentAudit(w.ctx, 10, 'totp-enrolled')).to.have.length(1);
    });

    it('uses up the confirming code, so it cannot sign in afterwards', async () => {
      const { secret } = await w.ctx.twoFactor.totp.begin(w.alice);
      const code = codeAt(secret, w.clock.now());
      w.ctx.twoFactor.totp.confirm(w.alice, code);
      expect(verify(code).ok).to.equal(false);
    });

    it('starting again replaces a pending secret; an expired one cannot be confirmed', async () => {
      const first = await w.ctx.twoFactor.totp.begin(w.alice);
      const second = await w.ctx.twoFactor.totp.begin(w.alice);
      expect(second.secret).not.to.equal(first.secret);
      expect(w.ctx.twoFactor.totp.confirm(w.alice, codeAt(first.secret, w.clock.now())).ok).to.equal(false);
      w.clock.advance(15 * 60_000);
      expect(w.ctx.twoFactor.totp.state(w.alice.id)).to.equal('none');
      expect(w.ctx.twoFactor.totp.confirm(w.alice, codeAt(second.secret, w.clock.now()))).to.deep.equal({ ok: false, reason: 'expired' });
    });

    it('refuses to begin over an active authenticator (409) and keeps it working', async () => {
      const secret = await enroll(w);
      let status = 0;
      await w.ctx.twoFactor.totp.begin(w.alice).catch((err: { status: number }) => (status = err.status));
      expect(status).to.equal(409);
      expect(verify(codeAt(secret, w.clock.now()))).to.deep.equal({ ok: true, method: 'totp' });
    });

    it('removal switches the factor off and is audited', async () => {
      await enroll(w);
      expect(w.ctx.twoFactor.totp.remove(w.alice, 'user:alice')).to.equal(true);
      expect(w.ctx.twoFactor.isEnabled(w.alice.id)).to.equal(false);
      expect(w.ctx.twoFactor.totp.remove(w.alice, 'user:alice')).to.equal(false);
      expect(recentAudit(w.ctx, 10, 'totp-removed')[0]?.details).to.deep.equal({ by: 'user:alice' });
    });
  });

  describe('verification', () => {
    let secret: string;
    beforeEach(async () => {
      secret = await enroll(w);
    });

    it('accepts the current code, with spaces as apps show it', () => {
      const code = codeAt(secret, w.clock.now());
      expect(verify(`${code.slice(0, 3)} ${code.slice(3)}`)).to.deep.equal({ ok: true, method: 'totp' });
      expect(recentAudit(w.ctx, 1)[0]?.event).to.equal('totp-accepted');
    });

    it('refuses a wrong code and malformed input', () => {
      expect(verify(wrongCode(secret, w.clock.now()))).to.deep.equal({ ok: false, reason: 'invalid' });
      for (const bad of ['', '12345', '1234567', 'abcdef', '１２３４５６', '1'.repeat(100)]) expect(verify(bad).ok, bad).to.equal(false);
      const failed = recentAudit(w.ctx, 20, 'second-factor-failed').map((e) => e.details.reason);
      expect(failed).to.include('invalid-code').and.include('malformed');
    });

    it('accepts the codes one step before and one step after now (clock drift)', () => {
      expect(verify(codeAt(secret, w.clock.now() - STEP)).ok).to.equal(true);
      w.clock.advance(2 * STEP);
      expect(verify(codeAt(secret, w.clock.now() + STEP)).ok).to.equal(true);
    });

    it('refuses a code from two steps ago and from two steps ahead', () => {
      expect(verify(codeAt(secret, w.clock.now() - 2 * STEP))).to.deep.equal({ ok: false, reason: 'invalid' });
      expect(verify(codeAt(secret, w.clock.now() + 2 * STEP))).to.deep.equal({ ok: false, reason: 'invalid' });
    });

    it('accepts each code once: a replay within its window is refused, and so are older codes', () => {
      const now = codeAt(secret, w.clock.now());
      expect(verify(now).ok).to.equal(true);
      expect(verify(now)).to.deep.equal({ ok: false, reason: 'invalid' });
      expect(recentAudit(w.ctx, 1, 'second-factor-failed')[0]?.details).to.deep.equal({ method: 'totp', reason: 'replayed-code' });
      // Still inside the window of the code before it, but that step is older than the used one.
      expect(verify(codeAt(secret, w.clock.now() - STEP)).ok).to.equal(false);
      // After the code from the step ahead was used, the current one is older: refused too.
      w.clock.advance(STEP);
      expect(verify(codeAt(secret, w.clock.now() + STEP)).ok).to.equal(true);
      expect(verify(codeAt(secret, w.clock.now())).ok).to.equal(false);
      w.clock.advance(2 * STEP);
      expect(verify(codeAt(secret, w.clock.now())).ok).to.equal(true);
    });

    it('keeps replay state per user: the same moment works for another user with their own secret', async () => {
      const bob = await w.ctx.accounts.create({ username: 'bob', password: 'correct horse battery staple', groups: [], by: 'test' });
      const bobSecret = await enroll(w, bob);
      expect(verify(codeAt(secret, w.clock.now())).ok).to.equal(true);
      expect(w.ctx.twoFactor.totp.verify(bob, codeAt(bobSecret, w.clock.now()), '192.0.2.11').ok).to.equal(true);
      expect(w.ctx.twoFactor.totp.verify(bob, codeAt(secret, w.clock.now() + STEP), '192.0.2.11').ok).to.equal(false, "alice's code is not bob's");
    });

    it('after N wrong codes refuses even the right code (throttled, Retry-After) until the lock passes', () => {
      const max = w.ctx.config.throttle.max_failures_per_user;
      for (let i = 0; i < max; i++) {
        expect(verify(wrongCode(secret, w.clock.now()), `198.51.100.${i + 1}`)).to.deep.equal({ ok: false, reason: 'invalid' });
      }
      const refused = verify(codeAt(secret, w.clock.now()), '192.0.2.99');
      expect(refused).to.deep.include({ ok: false, reason: 'throttled' });
      if (refused.ok || refused.reason !== 'throttled') throw new Error('not throttled');
      expect(refused.retryAfter).to.equal(15 * 60);
      expect(refused.until).to.equal(w.clock.now() + 15 * 60_000);
      expect(recentAudit(w.ctx, 1, 'second-factor-locked')[0]?.details).to.include({ count: 1, duration_ms: 15 * 60_000 });
      expect(recentAudit(w.ctx, 1, 'second-factor-throttled')[0]).to.deep.include({ username: 'alice', ip: '192.0.2.99' });
      expect(w.ctx.twoFactor.status(w.alice.id).lockedUntil).to.equal(refused.until);
      w.clock.advance(15 * 60_000 - 1000);
      expect(verify(codeAt(secret, w.clock.now())).ok).to.equal(false, 'still locked a second before the end');
      w.clock.advance(1000);
      expect(verify(codeAt(secret, w.clock.now()))).to.deep.equal({ ok: true, method: 'totp' });
    });

    it('doubles the lock for a user who keeps failing, and a success forgets the failures', () => {
      const max = w.ctx.config.throttle.max_failures_per_user;
      const fail = (n: number) => {
        for (let i = 0; i < n; i++) verify(wrongCode(secret, w.clock.now()));
      };
      fail(max);
      w.clock.advance(15 * 60_000);
      fail(max);
      const refused = verify(codeAt(secret, w.clock.now()));
      expect(refused).to.deep.include({ reason: 'throttled', retryAfter: 30 * 60 });
      w.clock.advance(30 * 60_000);
      fail(max - 1);
      expect(verify(codeAt(secret, w.clock.now())).ok).to.equal(true);
      fail(max - 1);
      expect(w.ctx.twoFactor.status(w.alice.id).lockedUntil).to.equal(null);
    });

    it('is not reset by a correct password (the login regulator\'s success leaves it alone)', () => {
      const max = w.ctx.config.throttle.max_failures_per_user;
      for (let i = 0; i < max - 1; i++) verify(wrongCode(secret, w.clock.now()));
      w.ctx.regulator.recordSuccess('192.0.2.10', 'alice');
      verify(wrongCode(secret, w.clock.now()));
      expect(verify(codeAt(secret, w.clock.now()))).to.deep.include({ ok: false, reason: 'throttled' });
    });
  });

  it('generates codes an RFC 6238 implementation agrees with (SHA-1, 6 digits, 30 s)', async () => {
    const { secret } = await w.ctx.twoFactor.totp.begin(w.alice);
    const reference = new TOTP({ secret: Secret.fromBase32(secret) }).generate({ timestamp: w.clock.now() });
    expect(w.ctx.twoFactor.totp.confirm(w.alice, reference).ok).to.equal(true);
  });
});
