// The SQLite store for express-rate-limit, through its Store interface on a real migrated
// database: fixed windows per key, decrement and resets, prefixes kept apart, persistence.

import { rmSync } from 'node:fs';
import { expect } from 'chai';
import type { Options } from 'express-rate-limit';
import { createContext, type AppContext } from '../../../src/context.js';
import { purgeRateLimitHits, SqliteRateLimitStore } from '../../../src/throttle/rate-limit-store.js';
import { FakeClock } from '../../support/clock.js';
import { tempDir, testConfig } from '../../support/harness.js';

const WINDOW = 60_000;

describe('rate-limit store (SQLite)', () => {
  let dir: string;
  let clock: FakeClock;
  let ctx: AppContext;
  beforeEach(() => {
    dir = tempDir('gatehouse-ratelimit-');
    clock = new FakeClock();
    ctx = createContext(testConfig(dir), { clock });
  });
  afterEach(() => {
    ctx.close();
    rmSync(dir, { recursive: true, force: true });
  });

  function store(prefix?: string): SqliteRateLimitStore {
    const s = new SqliteRateLimitStore(ctx.db, clock, prefix === undefined ? {} : { prefix });
    s.init({ windowMs: WINDOW } as Options);
    return s;
  }

  it('declares shared (database) keys and a prefix', () => {
    expect(store()).to.include({ localKeys: false, prefix: 'rl:' });
    expect(store('fa:').prefix).to.equal('fa:');
  });

  it('counts hits in a fixed window that starts with the first hit', () => {
    const s = store();
    const start = clock.now();
    expect(s.increment('203.0.113.1')).to.deep.equal({ totalHits: 1, resetTime: new Date(start + WINDOW) });
    clock.advance(10_000);
    expect(s.increment('203.0.113.1')).to.deep.equal({ totalHits: 2, resetTime: new Date(start + WINDOW) });
    expect(s.increment('203.0.113.2').totalHits).to.equal(1);
    expect(s.get('203.0.113.1')).to.deep.equal({ totalHits: 2, resetTime: new Date(start + WINDOW) });
    expect(s.get('198.51.100.1')).to.equal(undefined);
  });

  it('starts a new window once the old one has ended', () => {
    const s = store();
    s.increment('k');
    s.increment('k');
    clock.advance(WINDOW);
    expect(s.get('k')).to.equal(undefined);
    expect(s.increment('k')).to.deep.equal({ totalHits: 1, resetTime: new Date(clock.now() + WINDOW) });
  });

  it('decrements without going below zero, and resets one key or all of its own prefix', () => {
    const s = store();
    const other = store('fa:');
    s.increment('a');
    s.increment('a');
    s.decrement('a');
    expect(s.get('a')?.totalHits).to.equal(1);
    s.decrement('a');
    s.decrement('a');
    expect(s.get('a')?.totalHits).to.equal(0);
    s.increment('b');
    other.increment('a');
    s.resetKey('b');
    expect(s.get('b')).to.equal(undefined);
    s.resetAll();
    expect(s.get('a')).to.equal(undefined);
    expect(other.get('a')?.totalHits, 'another prefix is untouched').to.equal(1);
  });

  it('keeps counting across a new store on the same database (a restart)', () => {
    store().increment('203.0.113.1');
    store().increment('203.0.113.1');
    expect(store().get('203.0.113.1')?.totalHits).to.equal(2);
  });

  it('purges ended windows', async () => {
    const s = store();
    s.increment('old');
    clock.advance(WINDOW / 2);
    s.increment('new');
    clock.advance(WINDOW / 2);
    expect(await purgeRateLimitHits(ctx.db, clock.now())).to.equal(1);
    expect(s.get('new')?.totalHits).to.equal(1);
  });
});
