// The login regulator with a fake clock on a real, migrated SQLite file: per-user,
// per-IP and spraying limits, backoff timings, bans that expire and double up to ban_max,
// the known-address allowance, attempts in flight, lifting and purging.

import { rmSync } from 'node:fs';
import { expect } from 'chai';
import { createContext, type AppContext } from '../../../src/context.js';
import { ipKey } from '../../../src/theft/client-ip.js';
import { KNOWN_IP_RETENTION_MS, parseLiftTarget, type Ban, type Verdict } from '../../../src/throttle/regulator.js';
import { FakeClock } from '../../support/clock.js';
import { tempDir, testConfig } from '../../support/harness.js';
import { recentAudit } from '../../support/audit.js';

const SECOND = 1000;
const MINUTE = 60 * SECOND;

describe('login regulator', () => {
  let dir: string;
  let clock: FakeClock;
  let ctx: AppContext;

  function open(throttle: Record<string, unknown> = {}): void {
    dir = tempDir('gatehouse-regulator-');
    clock = new FakeClock();
    ctx = createContext(testConfig(dir, { throttle }), { clock });
  }
  afterEach(() => {
    ctx.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const check = (ip: string, user: string | null): Verdict => ctx.regulator.check(ip, user);

  /** One failed sign-in that the regulator must allow. */
  function fail(ip: string, user: string | null): Ban[] {
    const verdict = check(ip, user);
    if (!verdict.allowed) expect.fail(`refused ${ip}/${user}: ${verdict.reason} for ${verdict.retryAfter}s`);
    return verdict.attempt.failed();
  }

  /** A failed sign-in that first waits out any backoff (as a patient attacker would). */
  function failPatiently(ip: string, user: string | null): Ban[] {
    let verdict = check(ip, user);
    if (!verdict.allowed && verdict.reason === 'backoff') {
      clock.advance(verdict.retryAfter * SECOND);
      verdict = check(ip, user);
    }
    if (!verdict.allowed) expect.fail(`refused ${ip}/${user}: ${verdict.reason} for ${verdict.retryAfter}s`);
    return verdict.attempt.failed();
  }

  function succeed(ip: string, user: string): void {
    const verdict = check(ip, user);
    if (!verdict.allowed) expect.fail(`refused ${ip}/${user}: ${verdict.reason}`);
    verdict.attempt.succeeded();
  }

  function refusal(ip: string, user: string | null): { reason: string; retryAfter: number } {
    const verdict = check(ip, user);
    if (verdict.allowed) {
      verdict.attempt.abandon();
      return expect.fail(`allowed ${ip}/${user}`);
    }
    return { reason: verdict.reason, retryAfter: verdict.retryAfter };
  }

  describe('per-username limit', () => {
    it('locks a username for new addresses after max_failures_per_user failures from rotating IPs', () => {
      open();
      for (let i = 1; i <= 4; i++) expect(failPatiently(`203.0.113.${i}`, 'alice')).to.deep.equal([]);
      const bans = failPatiently('203.0.113.5', 'alice');
      expect(bans).to.have.length(1);
      expect(bans[0]).to.include({ scope: 'user', username: 'alice', ip: null, count: 1, cause: 'failures' });
      expect(bans[0]?.until).to.equal(clock.now() + 15 * MINUTE);
      expect(refusal('198.51.100.77', 'alice')).to.deep.equal({ reason: 'user-locked', retryAfter: 15 * 60 });
      // Other usernames are not affected.
      expect(check('198.51.100.77', 'bob').allowed).to.equal(true);
    });

    it('treats a username that does not exist exactly like one that does', () => {
      open();
      for (let i = 1; i <= 5; i++) failPatiently(`203.0.113.${i}`, 'no-such-user');
      expect(refusal('198.51.100.77', 'no-such-user').reason).to.equal('user-locked');
    });

    it('forgets failures once the window has passed without one', () => {
      open();
      for (let i = 1; i <= 4; i++) failPatiently(`203.0.113.${i}`, 'alice');
      clock.advance(15 * MINUTE + 1);
      for (let i = 1; i <= 4; i++) expect(failPatiently(`203.0.113.${i + 10}`, 'alice')).to.deep.equal([]);
    });
  });

  describe('backoff', () => {
    it('makes each attempt after backoff_after failures wait 1 s, 2 s, 4 s …, capped at half the ban', () => {
      open({ backoff_after: 3, max_failures_per_user: 99, max_failures_per_ip: 1000, ban: '10s', ban_max: '1m' });
      const ip = '203.0.113.1';
      for (let i = 0; i < 3; i++) fail(ip, 'alice');
      // 3 failures: the next attempt waits 1 s after the last failure.
      expect(refusal(ip, 'alice')).to.deep.equal({ reason: 'backoff', retryAfter: 1 });
      clock.advance(999);
      expect(refusal(ip, 'alice').reason).to.equal('backoff');
      clock.advance(1);
      fail(ip, 'alice');
      for (const wait of [2, 4, 5, 5]) {
        // The cap: half of `ban` (10 s) is 5 s.
        expect(refusal(ip, 'alice'), `after a ${wait}s wait`).to.deep.equal({ reason: 'backoff', retryAfter: wait });
        clock.advance(wait * SECOND - 1);
        expect(check(ip, 'alice').allowed).to.equal(false);
        clock.advance(1);
        fail(ip, 'alice');
      }
    });

    it('applies to the address counter too, whatever the username', () => {
      open({ backoff_after: 3, max_usernames_per_ip: 100 });
      fail('203.0.113.1', 'a1');
      fail('203.0.113.1', 'a2');
      fail('203.0.113.1', null);
      expect(refusal('203.0.113.1', 'a4')).to.deep.equal({ reason: 'backoff', retryAfter: 1 });
      expect(check('203.0.113.2', 'a4').allowed).to.equal(true);
    });

    it('counts attempts still being checked, so a parallel burst cannot pass the limit', () => {
      open({ backoff_after: 3 });
      const burst = Array.from({ length: 10 }, () => check('203.0.113.1', 'alice'));
      const allowed = burst.filter((v) => v.allowed);
      expect(allowed).to.have.length(3);
      expect(burst[3]).to.deep.include({ allowed: false, reason: 'backoff', retryAfter: 1 });
      // Settling (even abandoning) frees the slot.
      for (const v of allowed) if (v.allowed) v.attempt.abandon();
      expect(check('203.0.113.1', 'alice').allowed).to.equal(true);
    });
  });

  describe('bans', () => {
    it('expire, and double on each repeat up to ban_max', () => {
      open({ max_failures_per_user: 2, backoff_after: 99, ban: '1m', ban_max: '3m' });
      const durations: number[] = [];
      for (let round = 0; round < 4; round++) {
        failPatiently(`203.0.113.${round * 2 + 1}`, 'alice');
        const [ban] = failPatiently(`203.0.113.${round * 2 + 2}`, 'alice');
        expect(ban).to.include({ scope: 'user', count: round + 1 });
        durations.push((ban as Ban).until - clock.now());
        expect(refusal('198.51.100.1', 'alice').reason).to.equal('user-locked');
        clock.advance((ban as Ban).until - clock.now() - 1);
        expect(refusal('198.51.100.1', 'alice').reason, 'one millisecond before the end').to.equal('user-locked');
        clock.advance(1);
        expect(ctx.regulator.listBans()).to.deep.equal([]);
      }
      expect(durations).to.deep.equal([1, 2, 3, 3].map((m) => m * MINUTE));
      const imposed = recentAudit(ctx, 100, 'ban-imposed').reverse();
      expect(imposed.map((e) => e.details.duration_ms)).to.deep.equal(durations);
      expect(imposed[0]).to.deep.include({ username: 'alice', ip: null });
    });

    it('bans an address after max_failures_per_ip failures, for every username', () => {
      open({ max_failures_per_ip: 6, backoff_after: 99 });
      for (let i = 0; i < 5; i++) expect(fail('203.0.113.9', i % 2 ? 'alice' : 'bob')).to.deep.equal([]);
      const [ban] = fail('203.0.113.9', 'alice');
      expect(ban).to.include({ scope: 'ip', ip: '203.0.113.9', username: null, cause: 'failures' });
      expect(refusal('203.0.113.9', 'carol')).to.deep.equal({ reason: 'ip-banned', retryAfter: 15 * 60 });
      expect(refusal('203.0.113.9', null).reason).to.equal('ip-banned');
      expect(check('203.0.113.10', 'carol').allowed).to.equal(true);
    });

    it('bans an address that fails against max_usernames_per_ip different usernames (spraying)', () => {
      open({ max_usernames_per_ip: 5, backoff_after: 99 });
      const names = ['alice', 'bob', 'carol', 'dave'];
      for (const name of names) expect(fail('203.0.113.9', name)).to.deep.equal([]);
      const [ban] = fail('203.0.113.9', 'erin');
      expect(ban).to.include({ scope: 'ip', ip: '203.0.113.9', cause: 'spraying' });
      expect(refusal('203.0.113.9', 'alice').reason).to.equal('ip-banned');
      // The usernames themselves are not locked: one failure each.
      expect(check('198.51.100.1', 'alice').allowed).to.equal(true);
      expect(recentAudit(ctx, 1, 'ban-imposed')[0]).to.deep.include({ ip: '203.0.113.9', details: { scope: 'ip', cause: 'spraying', until: (ban as Ban).until, duration_ms: 15 * MINUTE, count: 1 } });
    });

    it('does not count usernames the address is known for as spraying', () => {
      open({ max_usernames_per_ip: 3, backoff_after: 99 });
      for (const name of ['mum', 'dad', 'kid']) succeed('192.0.2.1', name);
      for (const name of ['mum', 'dad', 'kid']) expect(fail('192.0.2.1', name)).to.deep.equal([]);
      expect(fail('192.0.2.1', 'guest')).to.deep.equal([]);
      expect(fail('192.0.2.1', 'stranger')).to.deep.equal([]);
      expect(fail('192.0.2.1', 'visitor')[0]).to.include({ scope: 'ip', cause: 'spraying' });
    });

    it('counts an IPv6 /64 as one address', () => {
      open({ max_failures_per_ip: 3, backoff_after: 99 });
      fail('2001:db8:1:2::1', 'alice');
      fail('2001:db8:1:2:aaaa::2', 'bob');
      expect(fail('2001:db8:1:2:ffff:ffff:ffff:ffff', 'alice')[0]).to.include({ scope: 'ip', ip: '2001:db8:1:2::/64' });
      expect(refusal('2001:db8:1:2::99', 'carol').reason).to.equal('ip-banned');
      expect(check('2001:db8:1:3::1', 'carol').allowed).to.equal(true);
    });
  });

  describe('success and known addresses', () => {
    it('resets the username and address+username counters on success, not the address counter', () => {
      open({ backoff_after: 99, max_failures_per_ip: 9 });
      for (let i = 0; i < 4; i++) fail('203.0.113.1', 'alice');
      succeed('203.0.113.1', 'alice');
      for (let i = 0; i < 4; i++) expect(fail(`198.51.100.${i}`, 'alice')).to.deep.equal([]);
      expect(failPatiently('198.51.100.9', 'alice')[0]).to.include({ scope: 'user' });
      // The address kept its 4 failures: five more ban it.
      for (let i = 0; i < 4; i++) expect(fail('203.0.113.1', 'bob')).to.deep.equal([]);
      expect(fail('203.0.113.1', 'bob')[0]).to.include({ scope: 'ip', ip: '203.0.113.1' });
    });

    it('keeps the allowance of a known address while the username is locked for strangers', () => {
      open({ backoff_after: 99, max_failures_known_ip: 3 });
      const home = '192.0.2.10';
      const phone = '2001:db8:aa:bb::1234';
      succeed(home, 'alice');
      succeed(phone, 'alice');
      for (let i = 1; i <= 5; i++) failPatiently(`203.0.113.${i}`, 'alice');
      expect(refusal('198.51.100.1', 'alice').reason).to.equal('user-locked');
      // Alice's own devices still get in; the phone's privacy address changed within its /64.
      succeed(home, 'alice');
      succeed('2001:db8:aa:bb::9999', 'alice');
      expect(refusal('198.51.100.1', 'alice').reason, 'a success does not end the lock for strangers').to.equal('user-locked');
      // A known address has its own, separate allowance of max_failures_known_ip.
      fail(home, 'alice');
      fail(home, 'alice');
      expect(fail(home, 'alice').map((b) => b.scope)).to.include('pair');
      expect(refusal(home, 'alice').reason).to.equal('user-locked');
      succeed(phone, 'alice');
    });

    it('forgets a known address KNOWN_IP_RETENTION_MS after its last success', () => {
      open({ backoff_after: 99 });
      succeed('192.0.2.10', 'alice');
      for (let i = 1; i <= 5; i++) failPatiently(`203.0.113.${i}`, 'alice');
      expect(check('192.0.2.10', 'alice').allowed).to.equal(true);
      clock.advance(KNOWN_IP_RETENTION_MS);
      for (let i = 1; i <= 5; i++) failPatiently(`203.0.113.${i + 10}`, 'alice');
      expect(refusal('192.0.2.10', 'alice').reason).to.equal('user-locked');
    });
  });

  describe('list, lift and purge', () => {
    it('lists active bans and lifts those of an address or a username, with audit', () => {
      open({ max_failures_per_ip: 2, max_failures_per_user: 2, backoff_after: 99 });
      fail('203.0.113.9', 'alice');
      fail('203.0.113.9', 'alice'); // bans the address and locks alice
      expect(ctx.regulator.listBans().map((b) => b.scope).sort()).to.deep.equal(['ip', 'user']);

      const byIp = ctx.regulator.lift('203.0.113.9', 'cli:test');
      expect(byIp.target).to.deep.equal({ kind: 'ip', key: '203.0.113.9' });
      expect(byIp.lifted.map((b) => b.scope)).to.deep.equal(['ip']);
      expect(byIp.cleared).to.equal(2); // the address and its address+alice pair
      expect(refusal('203.0.113.9', 'alice').reason, 'alice is still locked').to.equal('user-locked');

      const byUser = ctx.regulator.lift('ALICE', 'cli:test');
      expect(byUser.lifted.map((b) => b.username)).to.deep.equal(['alice']);
      expect(check('203.0.113.9', 'alice').allowed).to.equal(true);
      expect(ctx.regulator.listBans()).to.deep.equal([]);
      expect(ctx.regulator.lift('alice', 'cli:test')).to.deep.include({ lifted: [], cleared: 0 });
      expect(recentAudit(ctx, 10, 'ban-lifted').map((e) => [e.ip, e.username, e.details.by])).to.deep.equal([
        [null, 'alice', 'cli:test'],
        ['203.0.113.9', null, 'cli:test'],
      ]);
    });

    it('understands an IPv6 address or its /64 as shown by ban list, and refuses anything else', () => {
      open();
      expect(parseLiftTarget('2001:db8::1')).to.deep.equal({ kind: 'ip', key: '2001:db8::/64' });
      expect(parseLiftTarget('2001:db8::/64')).to.deep.equal({ kind: 'ip', key: '2001:db8::/64' });
      expect(parseLiftTarget('::ffff:192.0.2.1')).to.deep.equal({ kind: 'ip', key: '192.0.2.1' });
      expect(parseLiftTarget(' Alice ')).to.deep.equal({ kind: 'user', username: 'alice' });
      for (const bad of ['192.0.2.0/24', 'not a name!', '', 'al\u200bice']) expect(() => parseLiftTarget(bad), bad).to.throw(RangeError);
      expect(ipKey('::FFFF:192.0.2.1')).to.equal('192.0.2.1');
    });

    it('purges quiet counters once their last ban is ban_max behind, and old known addresses', async () => {
      open({ max_failures_per_user: 2, backoff_after: 99, ban: '1m', ban_max: '1h' });
      fail('203.0.113.1', 'alice');
      fail('203.0.113.2', 'alice');
      succeed('192.0.2.1', 'bob');
      const rows = () => ctx.db.prepare('SELECT count(*) FROM throttle_counters').pluck().get() as number;
      expect(rows()).to.equal(5); // 2 addresses, 2 pairs, the user
      clock.advance(15 * MINUTE + 1);
      expect((await ctx.regulator.purge()).counters).to.equal(4); // the user lock is remembered (doubling)
      clock.advance(MINUTE + 1 * 60 * MINUTE);
      expect(await ctx.regulator.purge()).to.deep.equal({ counters: 1, knownIps: 0 });
      clock.advance(KNOWN_IP_RETENTION_MS);
      expect(await ctx.regulator.purge()).to.deep.equal({ counters: 0, knownIps: 1 });
    });
  });
});
