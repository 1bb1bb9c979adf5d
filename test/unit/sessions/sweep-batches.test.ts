// Background sweeps in bounded batches (issue 24, SECURITY.md "Operations"): every sweep and
// purge statement finds its rows through an index and touches at most a batch of them, and
// a sweep of many rows gives the event loop a turn between batches instead of holding it.

import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import { PURGE_AUDIT_SQL } from '../../../src/audit/query.js';
import { SWEEP_BATCH } from '../../../src/db/batches.js';
import { ANONYMOUS_RETENTION_MS } from '../../../src/sessions/policy.js';
import { SWEEP_SQL } from '../../../src/sessions/sqlite.js';
import { hashSessionId } from '../../../src/sessions/store.js';
import { PURGE_RATE_LIMIT_SQL } from '../../../src/throttle/rate-limit-store.js';
import { THROTTLE_SWEEP_SQL } from '../../../src/throttle/regulator.js';
import { anonymous, HOUR, issue, MINUTE, openStore, set, signedIn, type StoreFixture } from '../../support/session-store.js';

const ROWS = 50_000;

/** Inserts `count` pre-login sessions, all expiring at `expiresAt` (as GET /login used to leave them). */
function seedAnonymous(f: StoreFixture, count: number, expiresAt: number): void {
  const insert = f.ctx.db.prepare(`INSERT INTO sessions (id_hash, user_id, data, created_at, last_seen_at, idle_timeout_ms, idle_expires_at, absolute_expires_at)
    VALUES (?, NULL, '{"cookie":{}}', ?, ?, ?, ?, ?)`);
  const now = f.clock.now();
  f.ctx.db.transaction(() => {
    for (let i = 0; i < count; i++) insert.run(hashSessionId(randomBytes(24).toString('base64url')), now, now, expiresAt - now, expiresAt, now + 2 * HOUR);
  })();
}

/**
 * Runs `work` while a chain of setImmediate callbacks stands for waiting requests: how many
 * of them ran meanwhile, and the longest stretch without one (ms).
 */
async function whileWatching<T>(work: () => Promise<T>): Promise<{ result: T; turns: number; longestMs: number }> {
  let turns = 0;
  let longestMs = 0;
  let last = performance.now();
  let running = true;
  const tick = () => {
    const now = performance.now();
    longestMs = Math.max(longestMs, now - last);
    last = now;
    turns += 1;
    if (running) setImmediate(tick);
  };
  setImmediate(tick);
  try {
    return { result: await work(), turns, longestMs: Math.max(longestMs, performance.now() - last) };
  } finally {
    running = false;
  }
}

describe('batched sweeps', () => {
  let f: StoreFixture;
  beforeEach(() => {
    f = openStore();
  });
  afterEach(() => f.close());

  it('finds the rows of every sweep and purge statement through an index, never by scanning a table', () => {
    const statements = { ...SWEEP_SQL, ...THROTTLE_SWEEP_SQL, purgeRateLimit: PURGE_RATE_LIMIT_SQL, purgeAudit: PURGE_AUDIT_SQL };
    const params = { now: 1, limit: 500, max: 500, cutoff: 1, afterAt: 0, afterId: 0, quietSince: 1, banForgotten: 1, ids: '[1,2]', before: 1 };
    for (const [name, sql] of Object.entries(statements)) {
      const statement = f.ctx.db.prepare(`EXPLAIN QUERY PLAN ${sql}`);
      const used = Object.fromEntries(Object.entries(params).filter(([key]) => sql.includes(`@${key}`)));
      const plan = (statement.all(used) as Array<{ detail: string }>).map((r) => r.detail);
      expect(plan.filter((d) => /^SCAN (sessions|throttle_counters|throttle_known_ips|rate_limit_hits|audit_log)\b/.test(d)), `${name}: ${plan.join(' | ')}`).to.deep.equal([]);
      expect(plan.some((d) => /^SEARCH .* USING (COVERING )?INDEX|USING INTEGER PRIMARY KEY/.test(d)), `${name}: ${plan.join(' | ')}`).to.equal(true);
      if (!sql.includes('json_each')) expect(sql, name).to.match(/LIMIT @(limit|max)\b/);
    }
  });

  it(`marks ${ROWS.toLocaleString('en-US')} expired pre-login sessions in batches, with the event loop free between them`, async () => {
    seedAnonymous(f, ROWS, f.clock.now() + 15 * MINUTE);
    await issue(f.store, 'sid-live', signedIn(f.alice));
    f.clock.advance(16 * MINUTE);
    await issue(f.store, 'sid-later', signedIn(f.bob));
    const { result, turns, longestMs } = await whileWatching(() => f.store.sweep());
    expect(result).to.deep.equal({ expired: ROWS, purged: 0 });
    expect(turns, 'turns of the event loop during the sweep').to.be.at.least(Math.floor(ROWS / SWEEP_BATCH) - 1);
    // Generous for a shared 2-core machine (a WAL checkpoint can fall into a batch); the turns above are the real check.
    expect(longestMs, 'longest stretch without a turn (ms)').to.be.below(400);
    expect(f.ctx.db.prepare('SELECT count(*) FROM sessions WHERE deleted_at IS NULL').pluck().get(), 'the signed-in ones').to.equal(2);

    f.clock.advance(ANONYMOUS_RETENTION_MS + 1);
    const purge = await whileWatching(() => f.store.sweep());
    expect(purge.result.purged).to.equal(ROWS);
    expect(purge.turns).to.be.at.least(Math.floor(ROWS / SWEEP_BATCH) - 1);
    expect(purge.longestMs).to.be.below(400);
  });

  it('marks sessions past their absolute lifetime though their idle expiry is later', async () => {
    await set(f.store, 'sid-visitor', anonymous());
    f.ctx.db.prepare('UPDATE sessions SET idle_expires_at = absolute_expires_at + ?').run(HOUR);
    f.clock.advance(2 * HOUR);
    expect(await f.store.sweep()).to.deep.equal({ expired: 1, purged: 0 });
  });

  it('stops between batches when aborted (shutdown), leaving the rest for the next sweep', async () => {
    seedAnonymous(f, 5000, f.clock.now() + MINUTE);
    f.clock.advance(2 * MINUTE);
    const stop = new AbortController();
    setImmediate(() => stop.abort());
    const first = await f.store.sweep({ batch: 100, signal: stop.signal });
    expect(first.expired).to.be.greaterThan(0).and.lessThan(5000);
    expect((await f.store.sweep()).expired).to.equal(5000 - first.expired);
  });

  it('forgets quiet throttle counters in batches, keeping those whose ban is still remembered', async () => {
    const insert = f.ctx.db.prepare("INSERT INTO throttle_counters (scope, ip, username, failures, last_failure_at, banned_until, ban_count) VALUES ('ip', ?, '', 1, ?, ?, ?)");
    const now = f.clock.now();
    f.ctx.db.transaction(() => {
      // Interleaved in time: quiet and forgettable, and quiet but with a ban still remembered.
      for (let i = 0; i < 3000; i++) insert.run(`198.18.${i >> 8}.${i & 255}`, now - HOUR - i, i % 2 ? now : null, i % 2 ? 1 : 0);
    })();
    const { result, turns } = await whileWatching(() => f.ctx.regulator.purge({ batch: 100 }));
    expect(result).to.deep.equal({ counters: 1500, knownIps: 0 });
    expect(turns).to.be.at.least(25);
    expect(f.ctx.db.prepare('SELECT count(*) FROM throttle_counters WHERE banned_until IS NULL').pluck().get()).to.equal(0);
    expect(f.ctx.db.prepare('SELECT count(*) FROM throttle_counters').pluck().get()).to.equal(1500);
  });
});
