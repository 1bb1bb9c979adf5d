// The forward-auth per-IP request budget.

import { expect } from 'chai';
import { createIpBuckets } from '../../../src/access/ip-buckets.js';
import { FakeClock } from '../../support/clock.js';

describe('forward-auth IP buckets', () => {
  it('allows max requests per window per IP, then says how long to wait', () => {
    const clock = new FakeClock();
    const buckets = createIpBuckets(clock, { max: 3, windowMs: 60_000 });
    expect([1, 2, 3].map(() => buckets.take('198.51.100.7'))).to.deep.equal([0, 0, 0]);
    expect(buckets.take('198.51.100.7')).to.equal(60);
    expect(buckets.take('203.0.113.1'), 'another IP has its own budget').to.equal(0);
    clock.advance(45_000);
    expect(buckets.take('198.51.100.7')).to.equal(15);
    clock.advance(15_000);
    expect(buckets.take('198.51.100.7'), 'a new window').to.equal(0);
  });

  it('tracks a bounded number of IPs', () => {
    const clock = new FakeClock();
    const buckets = createIpBuckets(clock, { max: 1, windowMs: 60_000, maxTracked: 2 });
    buckets.take('10.0.0.1');
    buckets.take('10.0.0.2');
    buckets.take('10.0.0.3'); // drops 10.0.0.1
    expect(buckets.take('10.0.0.1')).to.equal(0);
    expect(buckets.take('10.0.0.3')).to.be.greaterThan(0);
  });
});
