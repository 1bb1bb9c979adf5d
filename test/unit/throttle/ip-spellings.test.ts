// One address, one spelling (issue 11 item 9): an IPv4 address written inside IPv6, mapped
// or compatible, in any notation, is that IPv4 address, so it can neither escape an address
// ban nor be banned apart from it; other IPv6 keeps its own identity.

import { rmSync } from 'node:fs';
import { expect } from 'chai';
import { createContext, type AppContext } from '../../../src/context.js';
import { ipKey, normalizeIp } from '../../../src/theft/client-ip.js';
import { parseLiftTarget } from '../../../src/throttle/regulator.js';
import { FakeClock } from '../../support/clock.js';
import { tempDir, testConfig } from '../../support/harness.js';

const V4 = '192.0.2.77';
const SPELLINGS = ['::ffff:c000:24d', '::ffff:192.0.2.77', '0:0:0:0:0:ffff:c000:024d', '::FFFF:C000:024D', '0000:0000:0000:0000:0000:ffff:c000:024d', '::192.0.2.77', '::c000:24d'];

describe('client addresses: IPv4 inside IPv6', () => {
  it('writes every mapped and compatible spelling as plain IPv4', () => {
    for (const s of SPELLINGS) expect(normalizeIp(s), s).to.equal(V4);
    expect(ipKey(` ${SPELLINGS[0]} `)).to.equal(V4);
    expect(parseLiftTarget(SPELLINGS[2] as string)).to.deep.equal({ kind: 'ip', key: V4 });
  });

  it('leaves IPv6 addresses alone: loopback, unspecified, ordinary ones (lower case)', () => {
    expect(normalizeIp('::1')).to.equal('::1');
    expect(normalizeIp('::')).to.equal('::');
    expect(normalizeIp('2001:DB8::1')).to.equal('2001:db8::1');
    expect(normalizeIp('fe80::1%eth0')).to.equal('fe80::1%eth0');
    expect(normalizeIp('::ffff:0:c000:24d')).to.equal('::ffff:0:c000:24d');
    expect(normalizeIp(V4)).to.equal(V4);
    expect(normalizeIp('not an address')).to.equal('not an address');
  });

  describe('address bans', () => {
    let dir: string;
    let ctx: AppContext;
    beforeEach(() => {
      dir = tempDir('gatehouse-spellings-');
      ctx = createContext(testConfig(dir, { throttle: { max_failures_per_ip: 3, backoff_after: 99 } }), { clock: new FakeClock() });
    });
    afterEach(() => {
      ctx.close();
      rmSync(dir, { recursive: true, force: true });
    });

    function banFrom(ip: string): void {
      for (let i = 0; i < 3; i++) {
        const v = ctx.regulator.check(ip, null);
        if (!v.allowed) expect.fail(`refused ${ip} before the ban`);
        v.attempt.failed();
      }
    }
    const bannedFor = (ip: string): boolean => {
      const v = ctx.regulator.check(ip, 'carol');
      if (v.allowed) v.attempt.abandon();
      return !v.allowed && v.reason === 'ip-banned';
    };

    it('a ban on 192.0.2.77 holds for every IPv6 spelling of it', () => {
      banFrom(V4);
      for (const s of SPELLINGS) expect(bannedFor(s), s).to.equal(true);
      expect(bannedFor('192.0.2.78')).to.equal(false);
      expect(bannedFor('::ffff:c000:24e')).to.equal(false);
    });

    it('a ban earned from an IPv6 spelling holds for the plain address and the other spellings, and lifts by any of them', () => {
      banFrom('::ffff:c000:24d');
      expect(ctx.regulator.listBans().map((b) => b.ip)).to.deep.equal([V4]);
      expect(bannedFor(V4)).to.equal(true);
      for (const s of SPELLINGS) expect(bannedFor(s), s).to.equal(true);
      expect(ctx.regulator.lift('0:0:0:0:0:ffff:c000:024d', 'cli:test').lifted).to.have.length(1);
      expect(bannedFor(V4)).to.equal(false);
    });
  });
});
