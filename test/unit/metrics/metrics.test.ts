// The metrics on a real store (real SQLite, fake clock): every forward-auth label set has
// its own slot, series exist at zero from the start, session endings are counted by reason
// from the store's own event (sign-out, sweep, clear; pre-login sessions are not), and the
// gauges read from the database are cached for a few seconds.

import { expect } from 'chai';
import { FORWARD_AUTH_CREDENTIALS, FORWARD_AUTH_OUTCOMES, ForwardAuthTally } from '../../../src/metrics/metrics.js';
import { parseMetrics, valueOf } from '../../integration/observability/support.js';
import { anonymous, clear, HOUR, issue, openStore, set, signedIn, type StoreFixture } from '../../support/session-store.js';

describe('metrics', () => {
  describe('forward-auth tally', () => {
    it('keeps every endpoint, outcome and credential combination in its own slot', () => {
      const tally = new ForwardAuthTally();
      let n = 0;
      for (const kind of ['verify', 'forward'] as const) {
        for (const outcome of FORWARD_AUTH_OUTCOMES) for (const credential of FORWARD_AUTH_CREDENTIALS) for (let i = 0; i <= n; i++) tally.add(kind, outcome, credential);
        n += 1;
      }
      const entries = [...tally.entries()];
      expect(entries).to.have.length(2 * FORWARD_AUTH_OUTCOMES.length * FORWARD_AUTH_CREDENTIALS.length);
      expect(new Set(entries.map(([labels]) => JSON.stringify(labels))).size).to.equal(entries.length);
      for (const [labels, total] of entries) expect(total, JSON.stringify(labels)).to.equal(labels.endpoint === 'verify' ? 1 : 2);
    });
  });

  describe('on a store', () => {
    let f: StoreFixture;
    const scrape = async () => parseMetrics(await f.ctx.metrics.registry.metrics());
    beforeEach(() => (f = openStore()));
    afterEach(() => f.close());

    it('has every bounded series at zero before anything happened, and no process metrics while disabled', async () => {
      const samples = await scrape();
      expect(valueOf(samples, 'gatehouse_logins_total', { outcome: 'throttled' })).to.equal(0);
      expect(valueOf(samples, 'gatehouse_sessions_ended_total', { reason: 'ip-mismatch' })).to.equal(0);
      expect(valueOf(samples, 'gatehouse_forward_auth_decisions_total', { endpoint: 'forward', outcome: 'error', credential: 'token' })).to.equal(0);
      expect(samples.filter((s) => s.name === 'gatehouse_sessions_ended_total')).to.have.length(12);
      expect(samples.some((s) => s.name.startsWith('process_'))).to.equal(false);
      expect(f.ctx.metrics.enabled).to.equal(false);
    });

    it('counts signed-in sessions ending by reason, from revocation, the sweep and clear, but not pre-login ones', async () => {
      await issue(f.store, 'a1', signedIn(f.alice));
      await issue(f.store, 'a2', signedIn(f.alice));
      await issue(f.store, 'b1', signedIn(f.bob));
      await issue(f.store, 'b2', signedIn(f.bob));
      await set(f.store, 'anon', anonymous());
      f.store.revoke('a1', 'logout');
      f.store.revokeUserSessions(f.alice, 'password-changed');
      f.store.revoke('anon', 'regenerated');
      f.clock.advance(2 * HOUR); // past the idle timeout of b1 and b2
      await f.store.sweep();
      await issue(f.store, 'b3', signedIn(f.bob));
      await clear(f.store);
      const samples = await scrape();
      const ended = (reason: string) => valueOf(samples, 'gatehouse_sessions_ended_total', { reason });
      expect(ended('logout')).to.equal(1);
      expect(ended('password-changed')).to.equal(1);
      expect(ended('expired')).to.equal(2);
      expect(ended('cleared')).to.equal(1);
      expect(ended('regenerated')).to.equal(0);
    });

    it('reads live sessions from the database at most every 5 seconds', async () => {
      await issue(f.store, 's1', signedIn(f.alice));
      expect(valueOf(await scrape(), 'gatehouse_sessions_live')).to.equal(1);
      await issue(f.store, 's2', signedIn(f.bob));
      f.clock.advance(4_000);
      expect(valueOf(await scrape(), 'gatehouse_sessions_live')).to.equal(1);
      f.clock.advance(1_000);
      expect(valueOf(await scrape(), 'gatehouse_sessions_live')).to.equal(2);
    });
  });
});
