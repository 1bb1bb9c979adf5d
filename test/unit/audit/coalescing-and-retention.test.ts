// The audit log stays bounded under anonymous traffic: repeated refusals from one address
// are one row with a count per window, the first usernames an address tries keep rows of
// their own, and entries older than audit.retention are purged in batches.

import { rmSync } from 'node:fs';
import { expect } from 'chai';
import { COALESCE_NAMES_PER_ADDRESS } from '../../../src/audit/events.js';
import { createContext, type AppContext } from '../../../src/context.js';
import { FakeClock } from '../../support/clock.js';
import { tempDir, testConfig } from '../../support/harness.js';
import { recentAudit } from '../../support/audit.js';

const DAY = 86_400_000;

describe('audit coalescing and retention', () => {
  let dir: string;
  let ctx: AppContext;
  let clock: FakeClock;
  const open = (raw: Record<string, unknown> = {}) => {
    ctx?.close();
    ctx = createContext(testConfig(dir, raw), { clock });
  };
  beforeEach(() => {
    dir = tempDir();
    clock = new FakeClock();
    open();
  });
  afterEach(() => {
    ctx.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const rows = () => ctx.db.prepare('SELECT count(*) FROM audit_log').pluck().get() as number;

  describe('coalescing', () => {
    it('folds N failed sign-ins from one address within the window into one entry with count N', () => {
      const first = clock.now();
      for (let i = 0; i < 300; i++) {
        ctx.audit.loginFailed({ username: 'alice', ip: '203.0.113.7', reason: 'bad-credentials' });
        clock.advance(150);
      }
      expect(rows()).to.equal(1);
      const [entry] = recentAudit(ctx, 10);
      expect(entry).to.deep.include({ event: 'login-failed', username: 'alice', ip: '203.0.113.7', count: 300, at: first, lastAt: first + 299 * 150 });
      expect(entry?.details).to.deep.equal({ reason: 'bad-credentials' });
    });

    it('starts a new entry once the window has passed, and for another address, reason or event', () => {
      ctx.audit.loginFailed({ username: 'alice', ip: '203.0.113.7', reason: 'bad-credentials' });
      ctx.audit.loginFailed({ username: 'alice', ip: '203.0.113.8', reason: 'bad-credentials' });
      ctx.audit.loginFailed({ username: 'alice', ip: '203.0.113.7', reason: 'invalid-input' });
      ctx.audit.loginThrottled({ username: 'alice', ip: '203.0.113.7', reason: 'backoff', retryAfter: 2 });
      clock.advance(60_000);
      ctx.audit.loginFailed({ username: 'alice', ip: '203.0.113.7', reason: 'bad-credentials' });
      expect(rows()).to.equal(5);
      expect(recentAudit(ctx, 10).every((e) => e.count === 1)).to.equal(true);
    });

    it('keeps a row for each of the first usernames an address tries, then folds the rest into one', () => {
      const names = Array.from({ length: COALESCE_NAMES_PER_ADDRESS + 20 }, (_, i) => `user${i}`);
      for (let round = 0; round < 2; round++) for (const username of names) ctx.audit.loginFailed({ username, ip: '198.51.100.9', reason: 'bad-credentials' });
      const entries = recentAudit(ctx, 100).reverse();
      expect(entries).to.have.length(COALESCE_NAMES_PER_ADDRESS + 1);
      expect(entries.slice(0, COALESCE_NAMES_PER_ADDRESS).map((e) => [e.username, e.count])).to.deep.equal(names.slice(0, COALESCE_NAMES_PER_ADDRESS).map((n) => [n, 2]));
      const rest = entries.at(-1);
      expect(rest).to.deep.include({ username: null, count: 40 });
      expect(rest?.details).to.deep.equal({ reason: 'bad-credentials', more_usernames: true });
      // The targeted accounts are found by the user filter.
      expect(ctx.auditLog.page({ username: 'user3' }, { limit: 10 }).entries).to.have.length(1);
    });

    it('treats an IPv6 /64 as one address and notes the network when several of its addresses take part', () => {
      ctx.audit.loginFailed({ username: 'bob', ip: '2001:db8:1:2::10', reason: 'bad-credentials' });
      ctx.audit.loginFailed({ username: 'bob', ip: '2001:db8:1:2::10', reason: 'bad-credentials' });
      expect(recentAudit(ctx, 1)[0]?.details).to.deep.equal({ reason: 'bad-credentials' });
      ctx.audit.loginFailed({ username: 'bob', ip: '2001:db8:1:2:abcd::1', reason: 'bad-credentials' });
      ctx.audit.loginFailed({ username: 'bob', ip: '2001:db8:1:3::1', reason: 'bad-credentials' });
      const [other, first] = recentAudit(ctx, 10);
      expect(first).to.deep.include({ ip: '2001:db8:1:2::10', count: 3 });
      expect(first?.details).to.deep.equal({ reason: 'bad-credentials', network: '2001:db8:1:2::/64' });
      expect(other).to.deep.include({ ip: '2001:db8:1:3::1', count: 1 });
    });

    it('never coalesces other events', () => {
      for (let i = 0; i < 3; i++) {
        ctx.audit.loginSucceeded({ userId: 1, username: 'alice', ip: '192.0.2.1', session: 'abcdefabcdef', remember: false });
        ctx.audit.secondFactorFailed({ userId: 1, username: 'alice', ip: '192.0.2.1', method: 'totp', reason: 'invalid-code' });
      }
      expect(rows()).to.equal(6);
    });

    it('adds nothing to a row that a rolled-back transaction took back (its id is reused)', () => {
      expect(() =>
        ctx.db.transaction(() => {
          ctx.audit.loginFailed({ username: 'alice', ip: '203.0.113.7', reason: 'bad-credentials' });
          throw new Error('roll back');
        })(),
      ).to.throw('roll back');
      // Same event, same millisecond, the reused id: someone else's row.
      ctx.audit.loginFailed({ username: 'bob', ip: '198.51.100.1', reason: 'bad-credentials' });
      ctx.audit.loginFailed({ username: 'alice', ip: '203.0.113.7', reason: 'bad-credentials' });
      expect(recentAudit(ctx, 10).map((e) => [e.username, e.ip, e.count])).to.deep.equal([
        ['alice', '203.0.113.7', 1],
        ['bob', '198.51.100.1', 1],
      ]);
    });

    it('writes every refusal when audit.coalesce_window is 0', () => {
      open({ audit: { coalesce_window: 0 } });
      for (let i = 0; i < 5; i++) ctx.audit.loginFailed({ username: 'alice', ip: '203.0.113.7', reason: 'bad-credentials' });
      expect(rows()).to.equal(5);
    });
  });

  describe('retention', () => {
    it('defaults to 400 days', () => {
      expect(ctx.config.audit.retention).to.equal(400 * DAY);
    });

    it('purges entries older than the retention in batches and keeps newer ones', async () => {
      const retention = ctx.config.audit.retention;
      for (let i = 0; i < 1200; i++) ctx.audit.userEnabled({ userId: 1, username: 'alice', by: 'test' });
      clock.advance(retention - DAY);
      ctx.audit.userEnabled({ userId: 1, username: 'alice', by: 'kept' });
      clock.advance(DAY + 1);
      const purged = await ctx.auditLog.purgeBefore(clock.now() - retention, { batch: 500 });
      expect(purged).to.equal(1200);
      expect(recentAudit(ctx, 10).map((e) => e.details.by)).to.deep.equal(['kept']);
    });

    it('yields to the event loop between batches and stops when aborted', async () => {
      for (let i = 0; i < 2000; i++) ctx.audit.userEnabled({ userId: 1, username: 'alice', by: 'test' });
      clock.advance(ctx.config.audit.retention + 1);
      const stop = new AbortController();
      let turns = 0;
      const tick = () => {
        turns += 1;
        if (turns === 2) stop.abort();
        if (!stop.signal.aborted) setImmediate(tick);
      };
      setImmediate(tick);
      const purged = await ctx.auditLog.purgeBefore(clock.now() - ctx.config.audit.retention, { batch: 100, signal: stop.signal });
      expect(turns).to.be.at.least(2);
      expect(purged).to.be.greaterThan(0).and.lessThan(2000);
      expect(rows()).to.equal(2000 - purged);
    });
  });
});
