// The SQLite session store through express-session's Store API: soft delete, no
// resurrection, expiry from the row, insert vs update, all/length/clear and the sweep.

import { expect } from 'chai';
import { hashSessionId } from '../../../src/sessions/store.js';
import {
  DAY,
  HOUR,
  MINUTE,
  all,
  anonymous,
  clear,
  destroy,
  get,
  length,
  openStore,
  rowOf,
  issue,
  set,
  signedIn,
  touch,
  type StoreFixture,
} from '../../support/session-store.js';
import { recentAudit } from '../../support/audit.js';

describe('session store: Store API', () => {
  let f: StoreFixture;
  beforeEach(() => {
    f = openStore();
  });
  afterEach(() => f.close());

  const blocked = () => recentAudit(f.ctx, 100, 'session-resurrection-blocked');

  describe('get and set', () => {
    it('gets null for a session that was never stored', async () => {
      expect(await get(f.store, 'no-such-session')).to.equal(null);
    });

    it('round-trips the session data through set and get', async () => {
      const sess = signedIn(f.alice, { ip: '198.51.100.7' }, { flash: [{ kind: 'notice', text: 'Welcome back' }] });
      await issue(f.store, 'sid-roundtrip', sess);
      expect(await get(f.store, 'sid-roundtrip')).to.deep.equal(sess);
    });

    it('copies user, bound IP and user agent into columns and keys the row by the SHA-256 of the ID', async () => {
      await issue(f.store, 'sid-columns', signedIn(f.alice, { ip: '198.51.100.7', userAgent: 'Firefox' }));
      const row = rowOf(f.ctx, hashSessionId('sid-columns'));
      expect(row).to.include({ user_id: f.alice, bound_ip: '198.51.100.7', user_agent: 'Firefox', deleted_at: null });
      expect(row?.id_hash).to.match(/^[0-9a-f]{64}$/);
    });
  });

  describe('soft delete', () => {
    it('gets null after destroy, and keeps the row with deleted_at and a reason', async () => {
      await issue(f.store, 'sid-destroy', signedIn(f.alice));
      await get(f.store, 'sid-destroy');
      f.clock.advance(5000);
      await destroy(f.store, 'sid-destroy');
      expect(await get(f.store, 'sid-destroy')).to.equal(null);
      expect(rowOf(f.ctx, hashSessionId('sid-destroy'))).to.include({ deleted_at: f.clock.now(), delete_reason: 'regenerated' });
    });

    it('gets null after revoke with a reason, and keeps the row with that reason', async () => {
      await issue(f.store, 'sid-revoke', signedIn(f.alice));
      expect(f.store.revoke('sid-revoke', 'ip-mismatch', { seen: '203.0.113.9' })).to.equal(true);
      expect(await get(f.store, 'sid-revoke')).to.equal(null);
      expect(rowOf(f.ctx, hashSessionId('sid-revoke'))).to.include({ deleted_at: f.clock.now(), delete_reason: 'ip-mismatch' });
    });

    it('reports a second revoke of the same session as not live and keeps the first reason', async () => {
      await issue(f.store, 'sid-twice', signedIn(f.alice));
      f.store.revoke('sid-twice', 'logout');
      expect(f.store.revoke('sid-twice', 'revoked')).to.equal(false);
      expect(rowOf(f.ctx, hashSessionId('sid-twice'))?.delete_reason).to.equal('logout');
    });
  });

  describe('no resurrection', () => {
    it('does not bring a destroyed session back when a late set arrives', async () => {
      const sess = signedIn(f.alice);
      await issue(f.store, 'sid-late', sess);
      await destroy(f.store, 'sid-late');
      const deletedAt = f.clock.now();
      f.clock.advance(1000);
      await set(f.store, 'sid-late', { ...sess, flash: [{ kind: 'notice', text: 'saved by a slow request' }] });
      expect(await get(f.store, 'sid-late')).to.equal(null);
      const row = rowOf(f.ctx, hashSessionId('sid-late'));
      expect(row).to.include({ deleted_at: deletedAt, delete_reason: 'regenerated' });
      expect(row?.data).to.not.include('saved by a slow request');
      const audit = blocked();
      expect(audit).to.have.length(1);
      expect(audit[0]).to.deep.include({ userId: f.alice, details: { session: hashSessionId('sid-late').slice(0, 12), state: 'regenerated' } });
    });

    it("does not bring a session back after revoke('logout')", async () => {
      await issue(f.store, 'sid-logout', signedIn(f.alice));
      await get(f.store, 'sid-logout');
      f.store.revoke('sid-logout', 'logout');
      await set(f.store, 'sid-logout', signedIn(f.alice));
      expect(await get(f.store, 'sid-logout')).to.equal(null);
      expect(rowOf(f.ctx, hashSessionId('sid-logout'))?.delete_reason).to.equal('logout');
      expect(blocked().map((e) => e.details.state)).to.deep.equal(['logout']);
    });

    it('refuses to save a session past its idle expiry and marks the row expired', async () => {
      await issue(f.store, 'sid-idle-save', signedIn(f.alice));
      f.clock.advance(HOUR);
      await set(f.store, 'sid-idle-save', signedIn(f.alice));
      expect(rowOf(f.ctx, hashSessionId('sid-idle-save'))).to.include({ deleted_at: f.clock.now(), delete_reason: 'expired' });
      expect(await get(f.store, 'sid-idle-save')).to.equal(null);
      expect(blocked().map((e) => e.details.state)).to.deep.equal(['expired']);
    });

    it('refuses to save a session past its absolute expiry even though it is in use', async () => {
      await issue(f.store, 'sid-abs-save', signedIn(f.alice));
      for (let t = 0; t < 24 * HOUR - 30 * MINUTE; t += 30 * MINUTE) {
        f.clock.advance(30 * MINUTE);
        await touch(f.store, 'sid-abs-save', signedIn(f.alice));
      }
      f.clock.advance(30 * MINUTE); // exactly 24h after sign-in
      await set(f.store, 'sid-abs-save', signedIn(f.alice));
      expect(rowOf(f.ctx, hashSessionId('sid-abs-save'))).to.include({ delete_reason: 'expired' });
      expect(await get(f.store, 'sid-abs-save')).to.equal(null);
      expect(blocked()).to.have.length(1);
    });

    it('accepts a save within the idle limit of a use whose touch is not yet written', async () => {
      await issue(f.store, 'sid-pending', signedIn(f.alice));
      f.clock.advance(30_000);
      await touch(f.store, 'sid-pending', signedIn(f.alice)); // coalesced: held in memory
      f.clock.advance(HOUR - 10_000); // past 1h from the last write, not from the last use
      expect(await get(f.store, 'sid-pending')).to.not.equal(null);
      await set(f.store, 'sid-pending', signedIn(f.alice, {}, { flash: [{ kind: 'notice', text: 'still here' }] }));
      expect(rowOf(f.ctx, hashSessionId('sid-pending'))?.deleted_at).to.equal(null);
      expect(await get(f.store, 'sid-pending')).to.deep.include({ flash: [{ kind: 'notice', text: 'still here' }] });
      expect(blocked()).to.have.length(0);
    });
  });

  describe('expiry from the row', () => {
    it('ends a session unused for the idle timeout, whatever its cookie says', async () => {
      const far = new Date(f.clock.now() + 365 * DAY);
      const sess = signedIn(f.alice, {}, { cookie: { originalMaxAge: 365 * DAY, expires: far, httpOnly: true, path: '/' } });
      await issue(f.store, 'sid-idle', sess);
      f.clock.advance(HOUR - 1);
      expect(await get(f.store, 'sid-idle')).to.not.equal(null);
      f.clock.advance(1);
      expect(await get(f.store, 'sid-idle')).to.equal(null);
      expect(rowOf(f.ctx, hashSessionId('sid-idle'))).to.include({ deleted_at: f.clock.now(), delete_reason: 'expired' });
    });

    it('moves the idle expiry on touch, so a used session outlives one idle period', async () => {
      await issue(f.store, 'sid-used', signedIn(f.alice));
      f.clock.advance(40 * MINUTE);
      await touch(f.store, 'sid-used', signedIn(f.alice));
      f.clock.advance(59 * MINUTE);
      expect(await get(f.store, 'sid-used')).to.not.equal(null);
      f.clock.advance(MINUTE);
      expect(await get(f.store, 'sid-used')).to.equal(null);
    });

    it('enforces the idle expiry from the row for a store that never cached the session', async () => {
      await issue(f.store, 'sid-fresh-store', signedIn(f.alice));
      const second = f.openSecond();
      f.clock.advance(HOUR + 1);
      expect(await get(second.sessions, 'sid-fresh-store')).to.equal(null);
      expect(rowOf(f.ctx, hashSessionId('sid-fresh-store'))?.delete_reason).to.equal('expired');
    });

    it('ends a session at its absolute expiry even though it keeps being touched', async () => {
      await issue(f.store, 'sid-busy', signedIn(f.alice));
      for (let t = 0; t < 24 * HOUR - 30 * MINUTE; t += 30 * MINUTE) {
        f.clock.advance(30 * MINUTE);
        await touch(f.store, 'sid-busy', signedIn(f.alice));
        expect(await get(f.store, 'sid-busy'), `alive after ${t + 30 * MINUTE} ms`).to.not.equal(null);
      }
      f.clock.advance(29 * MINUTE);
      expect(await get(f.store, 'sid-busy')).to.not.equal(null);
      f.clock.advance(MINUTE); // 24h after sign-in
      await touch(f.store, 'sid-busy', signedIn(f.alice));
      expect(await get(f.store, 'sid-busy')).to.equal(null);
      expect(rowOf(f.ctx, hashSessionId('sid-busy'))?.delete_reason).to.equal('expired');
    });

    it('gives a remember-me session the remember_me lifetime instead of the idle and absolute limits', async () => {
      await issue(f.store, 'sid-remember', signedIn(f.alice, { remember: true }));
      await issue(f.store, 'sid-normal', signedIn(f.alice));
      const start = f.clock.now();
      expect(rowOf(f.ctx, hashSessionId('sid-remember'))).to.include({ idle_timeout_ms: 30 * DAY, absolute_expires_at: start + 30 * DAY });
      f.clock.advance(2 * HOUR);
      expect(await get(f.store, 'sid-normal')).to.equal(null);
      expect(await get(f.store, 'sid-remember')).to.not.equal(null);
      f.clock.advance(30 * DAY - 2 * HOUR - 1);
      expect(await get(f.store, 'sid-remember')).to.not.equal(null);
      f.clock.advance(1);
      expect(await get(f.store, 'sid-remember')).to.equal(null);
    });
  });

  describe('insert vs update', () => {
    it('keeps created_at and the absolute expiry when a session is updated', async () => {
      await issue(f.store, 'sid-update', signedIn(f.alice));
      const created = f.clock.now();
      f.clock.advance(10 * MINUTE);
      await set(f.store, 'sid-update', signedIn(f.alice, {}, { flash: [{ kind: 'notice', text: 'changed' }] }));
      const row = rowOf(f.ctx, hashSessionId('sid-update'));
      expect(row).to.include({ created_at: created, absolute_expires_at: created + DAY, last_seen_at: created + 10 * MINUTE });
      expect(row?.idle_expires_at).to.equal(created + 10 * MINUTE + HOUR);
      expect(JSON.parse(row?.data ?? '{}')).to.deep.include({ flash: [{ kind: 'notice', text: 'changed' }] });
    });

    it('never changes the bound IP or user agent of an existing session on update', async () => {
      await issue(f.store, 'sid-bound', signedIn(f.alice, { ip: '192.0.2.10' }));
      f.clock.advance(MINUTE);
      await set(f.store, 'sid-bound', signedIn(f.alice, { ip: '203.0.113.66', userAgent: 'curl' }));
      expect(rowOf(f.ctx, hashSessionId('sid-bound'))).to.include({ user_id: f.alice, bound_ip: '192.0.2.10', user_agent: 'Mozilla/5.0 (test)' });
    });

    it("refuses to save another user's data into a session and ends it (fail closed)", async () => {
      await issue(f.store, 'sid-swap', signedIn(f.alice, { ip: '192.0.2.10' }));
      f.clock.advance(MINUTE);
      await set(f.store, 'sid-swap', signedIn(f.bob, { ip: '192.0.2.10' }));
      expect(await get(f.store, 'sid-swap')).to.equal(null);
      const row = rowOf(f.ctx, hashSessionId('sid-swap'));
      expect(row).to.include({ user_id: f.alice, delete_reason: 'revoked' });
      expect(JSON.parse(row?.data ?? '{}').passport).to.deep.equal({ user: f.alice });
      expect(blocked()[0]?.details).to.deep.include({ state: 'user-mismatch' });
    });

    it('does not turn a remembered session into a normal one (or back) on update', async () => {
      await issue(f.store, 'sid-keep-life', signedIn(f.alice, { remember: true }));
      f.clock.advance(MINUTE);
      await set(f.store, 'sid-keep-life', signedIn(f.alice, { remember: false }));
      expect(rowOf(f.ctx, hashSessionId('sid-keep-life'))).to.include({ idle_timeout_ms: 30 * DAY });
    });
  });

  describe('all, length and clear', () => {
    async function population(): Promise<void> {
      await issue(f.store, 'sid-will-expire', signedIn(f.alice));
      f.clock.advance(50 * MINUTE);
      await issue(f.store, 'sid-live-a', signedIn(f.alice));
      await set(f.store, 'sid-live-b', anonymous({ flash: [{ kind: 'notice', text: 'b' }] }));
      await issue(f.store, 'sid-destroyed', signedIn(f.bob));
      await destroy(f.store, 'sid-destroyed');
      f.clock.advance(14 * MINUTE); // sid-will-expire is now past its idle limit, not yet marked
    }

    it('counts only live, unexpired sessions in length()', async () => {
      await population();
      expect(await length(f.store)).to.equal(2);
    });

    it('lists only live, unexpired sessions in all(), keyed by hash, never by raw ID', async () => {
      await population();
      const sessions = await all(f.store);
      expect(Object.keys(sessions).sort()).to.deep.equal([hashSessionId('sid-live-a'), hashSessionId('sid-live-b')].sort());
      expect(sessions[hashSessionId('sid-live-b')]).to.deep.include({ flash: [{ kind: 'notice', text: 'b' }] });
    });

    it('soft-deletes every live session with reason "cleared" on clear()', async () => {
      await population();
      await get(f.store, 'sid-live-a');
      await clear(f.store);
      expect(await length(f.store)).to.equal(0);
      expect(await get(f.store, 'sid-live-a')).to.equal(null);
      for (const sid of ['sid-live-a', 'sid-live-b']) {
        expect(rowOf(f.ctx, hashSessionId(sid))).to.include({ deleted_at: f.clock.now(), delete_reason: 'cleared' });
      }
      expect(rowOf(f.ctx, hashSessionId('sid-destroyed'))?.delete_reason).to.equal('regenerated');
    });
  });

  describe('listing ended sessions', () => {
    it('lists signed-out and expired-but-unswept sessions, most recently ended first, without replaced IDs or visitors', async () => {
      await issue(f.store, 'sid-logout', signedIn(f.alice));
      f.store.revoke('sid-logout', 'logout');
      f.clock.advance(MINUTE);
      await issue(f.store, 'sid-idle', signedIn(f.alice));
      await issue(f.store, 'sid-replaced', signedIn(f.alice));
      await destroy(f.store, 'sid-replaced'); // express-session's regenerate(): reason "regenerated"
      await set(f.store, 'sid-visitor', anonymous());
      f.store.revoke('sid-visitor', 'revoked');
      await issue(f.store, 'sid-bob', signedIn(f.bob));
      f.store.revoke('sid-bob', 'revoked');
      f.clock.advance(HOUR + MINUTE); // sid-idle is now past its idle expiry, not yet swept

      const ended = f.store.listEnded({ userId: f.alice });
      expect(ended.map((s) => s.deleteReason)).to.deep.equal(['expired', 'logout']);
      const expired = ended[0];
      expect(expired?.deletedAt, 'ended at its expiry').to.equal(expired?.expiresAt);
      expect(f.store.listEnded().map((s) => s.username)).to.deep.equal(['alice', 'bob', 'alice']);
      expect(f.store.listEnded({ limit: 1 })).to.have.length(1);
      expect(f.store.countSignedIn()).to.equal(0);
    });
  });

  describe('sweep', () => {
    it('marks expired sessions, purges soft-deleted rows past retention and keeps newer ones', async () => {
      f.close();
      f = openStore({ session: { retention: '1d' } });
      await issue(f.store, 'sid-old-deleted', signedIn(f.alice));
      f.store.revoke('sid-old-deleted', 'logout');
      f.clock.advance(23 * HOUR);
      await issue(f.store, 'sid-recent-deleted', signedIn(f.alice));
      f.store.revoke('sid-recent-deleted', 'revoked');
      await issue(f.store, 'sid-expiring', signedIn(f.bob));
      f.clock.advance(HOUR + MINUTE);
      await issue(f.store, 'sid-live', signedIn(f.bob));

      expect(await f.store.sweep()).to.deep.equal({ expired: 1, purged: 1 });
      expect(rowOf(f.ctx, hashSessionId('sid-old-deleted'))).to.equal(undefined);
      expect(rowOf(f.ctx, hashSessionId('sid-recent-deleted'))).to.include({ delete_reason: 'revoked' });
      expect(rowOf(f.ctx, hashSessionId('sid-expiring'))).to.include({ deleted_at: f.clock.now(), delete_reason: 'expired' });
      expect(rowOf(f.ctx, hashSessionId('sid-live'))?.deleted_at).to.equal(null);
      expect(await get(f.store, 'sid-live')).to.not.equal(null);

      f.clock.advance(DAY + 1);
      expect(await f.store.sweep()).to.deep.equal({ expired: 1, purged: 2 });
      expect(rowOf(f.ctx, hashSessionId('sid-recent-deleted'))).to.equal(undefined);
      expect(rowOf(f.ctx, hashSessionId('sid-expiring'))).to.equal(undefined);
    });

    it('purges ended pre-login sessions after a day, but keeps a deleted user\'s ended sessions for the retention period', async () => {
      await set(f.store, 'sid-visitor', anonymous());
      await destroy(f.store, 'sid-visitor');
      await issue(f.store, 'sid-member', signedIn(f.alice));
      f.ctx.accounts.delete('alice', 'test');
      f.clock.advance(DAY + 1);
      await f.store.sweep();
      expect(rowOf(f.ctx, hashSessionId('sid-visitor'))).to.equal(undefined);
      expect(rowOf(f.ctx, hashSessionId('sid-member'))).to.include({ user_id: null, delete_reason: 'user-deleted' });
    });
  });

  describe('pre-login sessions', () => {
    it('live 15 minutes idle and 2 hours at most, whatever the signed-in limits', async () => {
      await set(f.store, 'sid-visitor', anonymous());
      const row = rowOf(f.ctx, hashSessionId('sid-visitor'));
      expect(row?.idle_timeout_ms).to.equal(15 * MINUTE);
      expect((row?.absolute_expires_at ?? 0) - (row?.created_at ?? 0)).to.equal(2 * HOUR);
      f.clock.advance(15 * MINUTE);
      expect(await get(f.store, 'sid-visitor')).to.equal(null);
    });
  });
});
