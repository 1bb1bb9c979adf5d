// The SQLite session store's memory and disk: coalesced touches, the bounded cache and
// other writers (the CLI), hashed IDs at rest, and the revocation operations.

import { readFileSync, existsSync } from 'node:fs';
import { expect } from 'chai';
import { databasePath } from '../../../src/db/connection.js';
import { randomToken, sha256Hex } from '../../../src/lib/crypto.js';
import { hashSessionId } from '../../../src/sessions/store.js';
import {
  HOUR,
  MINUTE,
  all,
  anonymous,
  destroy,
  get,
  length,
  openStore,
  rowOf,
  issue,
  set,
  signedIn,
  touch,
  writesSoFar,
  type StoreFixture,
} from '../../support/session-store.js';
import { recentAudit } from '../../support/audit.js';

describe('session store: touches, cache and revocation', () => {
  let f: StoreFixture;
  afterEach(() => f.close());

  const lastSeen = (sid: string) => rowOf(f.ctx, hashSessionId(sid))?.last_seen_at;

  for (const [label, config] of [
    ['cached', {}],
    ['uncached', { session: { cache_size: 0 } }],
  ] as const) {
    describe(`coalesced touches (${label})`, () => {
      beforeEach(() => {
        f = openStore(config);
      });

      it('writes a busy session at most once per touch interval', async () => {
        await issue(f.store, 'sid-busy', signedIn(f.alice));
        const start = f.clock.now();
        const before = writesSoFar(f.ctx);
        for (let i = 0; i < 29; i++) {
          f.clock.advance(2000);
          await touch(f.store, 'sid-busy', signedIn(f.alice));
          await get(f.store, 'sid-busy');
        }
        expect(writesSoFar(f.ctx) - before, 'writes within the first interval').to.equal(0);
        expect(lastSeen('sid-busy')).to.equal(start);

        f.clock.advance(2000); // one touch interval (60s) after the last write
        await touch(f.store, 'sid-busy', signedIn(f.alice));
        expect(writesSoFar(f.ctx) - before).to.equal(1);
        expect(lastSeen('sid-busy')).to.equal(start + MINUTE);

        for (let i = 0; i < 20; i++) {
          f.clock.advance(1000);
          await touch(f.store, 'sid-busy', signedIn(f.alice));
        }
        expect(writesSoFar(f.ctx) - before, 'writes within the second interval').to.equal(1);
      });

      it('does not revive an expired session when touched', async () => {
        await issue(f.store, 'sid-expired', signedIn(f.alice));
        const { idle_expires_at: idleBefore } = rowOf(f.ctx, hashSessionId('sid-expired')) ?? {};
        f.clock.advance(HOUR);
        await touch(f.store, 'sid-expired', signedIn(f.alice));
        f.store.flushTouches();
        expect(rowOf(f.ctx, hashSessionId('sid-expired'))?.idle_expires_at).to.equal(idleBefore);
        expect(await get(f.store, 'sid-expired')).to.equal(null);
        expect(rowOf(f.ctx, hashSessionId('sid-expired'))?.delete_reason).to.equal('expired');
      });

      it('does not revive a deleted session when touched', async () => {
        await issue(f.store, 'sid-deleted', signedIn(f.alice));
        f.store.revoke('sid-deleted', 'logout');
        const before = rowOf(f.ctx, hashSessionId('sid-deleted'));
        f.clock.advance(10 * MINUTE);
        await touch(f.store, 'sid-deleted', signedIn(f.alice));
        f.store.flushTouches();
        expect(rowOf(f.ctx, hashSessionId('sid-deleted'))).to.deep.equal(before);
        expect(await get(f.store, 'sid-deleted')).to.equal(null);
      });
    });
  }

  describe('pending touches', () => {
    beforeEach(() => {
      f = openStore();
    });

    it('writes pending touches on flushTouches()', async () => {
      await issue(f.store, 'sid-pending', signedIn(f.alice));
      f.clock.advance(30_000);
      await touch(f.store, 'sid-pending', signedIn(f.alice));
      expect(lastSeen('sid-pending')).to.equal(f.clock.now() - 30_000);
      f.store.flushTouches();
      expect(rowOf(f.ctx, hashSessionId('sid-pending'))).to.include({ last_seen_at: f.clock.now(), idle_expires_at: f.clock.now() + HOUR });
    });

    it('counts a session kept alive by a pending touch in length() and all()', async () => {
      await issue(f.store, 'sid-kept', signedIn(f.alice));
      f.clock.advance(30_000);
      await touch(f.store, 'sid-kept', signedIn(f.alice));
      f.clock.advance(HOUR - 10_000); // past 1h from the last write, not from the last use
      expect(await get(f.store, 'sid-kept')).to.not.equal(null);
      expect(await length(f.store)).to.equal(1);
      expect(Object.keys(await all(f.store))).to.deep.equal([hashSessionId('sid-kept')]);
    });
  });

  describe('the cache', () => {
    it('serves a hot session from memory without reading the row again', async () => {
      f = openStore();
      await issue(f.store, 'sid-hot', signedIn(f.alice, {}, { flash: [{ kind: 'notice', text: 'cached' }] }));
      // Same connection: SQLite's data_version does not move, so the cache stays warm.
      f.ctx.db.prepare("UPDATE sessions SET data = json_set(data, '$.flash', json_array('row'))").run();
      expect(await get(f.store, 'sid-hot')).to.deep.include({ flash: [{ kind: 'notice', text: 'cached' }] });
    });

    it('does not serve a cached session after revoke, revokeUserSessions or revokeByHandle', async () => {
      f = openStore();
      for (const sid of ['sid-r1', 'sid-r2', 'sid-r3']) await issue(f.store, sid, signedIn(sid === 'sid-r2' ? f.bob : f.alice));
      for (const sid of ['sid-r1', 'sid-r2', 'sid-r3']) expect(await get(f.store, sid)).to.not.equal(null);

      f.store.revoke('sid-r1', 'revoked');
      expect(await get(f.store, 'sid-r1')).to.equal(null);
      f.store.revokeUserSessions(f.bob, 'user-disabled');
      expect(await get(f.store, 'sid-r2')).to.equal(null);
      f.store.revokeByHandle(hashSessionId('sid-r3').slice(0, 12), 'revoked', 'admin');
      expect(await get(f.store, 'sid-r3')).to.equal(null);
    });

    it('notices a revocation made through a second connection to the same file', async () => {
      f = openStore();
      await issue(f.store, 'sid-cli', signedIn(f.alice));
      await issue(f.store, 'sid-cli-user', signedIn(f.bob));
      expect(await get(f.store, 'sid-cli')).to.not.equal(null);
      expect(await get(f.store, 'sid-cli-user')).to.not.equal(null);

      const cli = f.openSecond();
      expect(cli.sessions.revoke('sid-cli', 'revoked')).to.equal(true);
      expect(await get(f.store, 'sid-cli')).to.equal(null);

      expect(cli.sessions.revokeUserSessions(f.bob, 'password-changed')).to.equal(1);
      expect(await get(f.store, 'sid-cli-user')).to.equal(null);
    });

    it('keeps a pending touch when it drops the cache for another connection’s change', async () => {
      f = openStore();
      await issue(f.store, 'sid-keep-touch', signedIn(f.alice));
      f.clock.advance(20_000);
      await touch(f.store, 'sid-keep-touch', signedIn(f.alice));
      const cli = f.openSecond();
      cli.audit.setupTokenIssued(); // any commit by another connection
      expect(await get(f.store, 'sid-keep-touch')).to.not.equal(null);
      expect(lastSeen('sid-keep-touch')).to.equal(f.clock.now());
    });

    it('does not cache pre-login sessions, so login-page visitors cannot push signed-in ones out', async () => {
      f = openStore({ session: { cache_size: 2 } });
      await issue(f.store, 'sid-member', signedIn(f.alice, {}, { flash: [{ kind: 'notice', text: 'cached' }] }));
      for (let i = 0; i < 5; i++) await set(f.store, `sid-visitor-${i}`, anonymous());
      f.ctx.db.prepare("UPDATE sessions SET data = json_set(data, '$.flash', json_array('row'))").run();
      expect(await get(f.store, 'sid-member')).to.deep.include({ flash: [{ kind: 'notice', text: 'cached' }] });
    });

    it('holds at most cache_size sessions, dropping the least recently used', async () => {
      f = openStore({ session: { cache_size: 2 } });
      for (const sid of ['sid-a', 'sid-b', 'sid-c']) await issue(f.store, sid, signedIn(f.alice, {}, { flash: [{ kind: 'notice', text: 'cached' }] }));
      f.ctx.db.prepare("UPDATE sessions SET data = json_set(data, '$.flash', json_array('row'))").run();
      expect(await get(f.store, 'sid-c'), 'still cached').to.deep.include({ flash: [{ kind: 'notice', text: 'cached' }] });
      expect(await get(f.store, 'sid-b'), 'still cached').to.deep.include({ flash: [{ kind: 'notice', text: 'cached' }] });
      expect(await get(f.store, 'sid-a'), 'evicted: read from the row').to.deep.include({ flash: ['row'] });
      expect(await get(f.store, 'sid-c'), 'evicted by sid-a').to.deep.include({ flash: ['row'] });
    });

    it('writes the pending touch of a session pushed out of the cache', async () => {
      f = openStore({ session: { cache_size: 2 } });
      await issue(f.store, 'sid-a', signedIn(f.alice));
      await issue(f.store, 'sid-b', signedIn(f.alice));
      f.clock.advance(10_000);
      await touch(f.store, 'sid-a', signedIn(f.alice));
      expect(lastSeen('sid-a')).to.equal(f.clock.now() - 10_000);
      await get(f.store, 'sid-b'); // sid-a becomes the least recently used
      await issue(f.store, 'sid-c', signedIn(f.alice));
      expect(lastSeen('sid-a')).to.equal(f.clock.now());
    });
  });

  describe('hashed IDs at rest', () => {
    it('never writes a raw session ID (or its base64) to the database file, only its SHA-256', async () => {
      f = openStore();
      const sids = Array.from({ length: 5 }, () => `RAWSID${randomToken(24)}`);
      for (const sid of sids) await issue(f.store, sid, signedIn(f.alice));
      const [a, b, c, d] = sids as [string, string, string, string];
      f.clock.advance(2 * MINUTE);
      await touch(f.store, a, signedIn(f.alice));
      await destroy(f.store, b);
      f.store.revoke(c, 'ip-mismatch');
      await set(f.store, c, signedIn(f.alice)); // blocked resurrection, audited
      f.store.revokeUserSessions(f.alice, 'password-changed', { exceptSid: d });
      f.store.flushTouches();
      f.ctx.db.pragma('wal_checkpoint(TRUNCATE)');

      const file = databasePath(f.dataDir);
      const bytes = Buffer.concat([file, `${file}-wal`].filter(existsSync).map((p) => readFileSync(p)));
      const text = bytes.toString('latin1');
      expect(text).to.include(sha256Hex(a), 'the hash is stored (sanity check of what was read)');
      for (const sid of sids) {
        for (const form of [sid, sid.slice('RAWSID'.length), Buffer.from(sid).toString('base64'), Buffer.from(sid).toString('base64url')]) {
          expect(text.includes(form), `found ${form}`).to.equal(false);
        }
      }
      expect(text).to.not.include('RAWSID');
    });
  });

  describe('revokeByHandle', () => {
    beforeEach(() => {
      f = openStore();
    });

    it('revokes the session named by a prefix of at least 6 hex characters, any case', async () => {
      await issue(f.store, 'sid-handle', signedIn(f.alice));
      await issue(f.store, 'sid-other', signedIn(f.alice));
      const hash = hashSessionId('sid-handle');
      const info = f.store.revokeByHandle(hash.slice(0, 6).toUpperCase(), 'revoked', 'admin:carol');
      expect(info).to.deep.include({ handle: hash.slice(0, 12), userId: f.alice, username: 'alice', deleteReason: 'revoked' });
      expect(await get(f.store, 'sid-handle')).to.equal(null);
      expect(await get(f.store, 'sid-other')).to.not.equal(null);
      const [event] = recentAudit(f.ctx, 1, 'session-revoked');
      expect(event?.details).to.deep.equal({ session: hash.slice(0, 12), reason: 'revoked', by: 'admin:carol' });
    });

    it('refuses a prefix shorter than 6 characters or not hexadecimal', () => {
      for (const bad of ['', 'abcde', 'abcdeg', 'zzzzzz', "abcdef' OR 1=1", 'a'.repeat(65)]) {
        expect(() => f.store.revokeByHandle(bad, 'revoked', 'admin'), bad).to.throw(RangeError, /6 to 64 hexadecimal/);
      }
    });

    it('throws for a prefix matching two sessions and revokes neither', async () => {
      const seen = new Map<string, string>();
      let pair: [string, string] | null = null;
      for (let i = 0; !pair; i++) {
        const sid = `collide-${i}`;
        const prefix = hashSessionId(sid).slice(0, 6);
        const other = seen.get(prefix);
        if (other) pair = [other, sid];
        seen.set(prefix, sid);
      }
      for (const sid of pair) await issue(f.store, sid, signedIn(f.alice));
      const prefix = hashSessionId(pair[0]).slice(0, 6);
      expect(() => f.store.revokeByHandle(prefix, 'revoked', 'admin')).to.throw(RangeError, /more than one session/);
      for (const sid of pair) expect(await get(f.store, sid)).to.not.equal(null);
    });

    it('returns null for a handle that names no live session', async () => {
      await issue(f.store, 'sid-gone', signedIn(f.alice));
      f.store.revoke('sid-gone', 'logout');
      expect(f.store.revokeByHandle(hashSessionId('sid-gone').slice(0, 12), 'revoked', 'admin')).to.equal(null);
      const unknown = hashSessionId('sid-gone').startsWith('000000') ? 'ffffff' : '000000';
      expect(f.store.revokeByHandle(unknown, 'revoked', 'admin')).to.equal(null);
    });

    it('does not count an expired (not yet swept) session as a match', async () => {
      await issue(f.store, 'sid-stale', signedIn(f.alice));
      f.clock.advance(2 * HOUR);
      expect(f.store.revokeByHandle(hashSessionId('sid-stale').slice(0, 12), 'revoked', 'admin')).to.equal(null);
    });
  });

  describe('revokeUserSessions', () => {
    it("ends every session of the user except the one given, and no one else's", async () => {
      f = openStore();
      for (const sid of ['sid-keep', 'sid-end-1', 'sid-end-2']) await issue(f.store, sid, signedIn(f.alice));
      await issue(f.store, 'sid-bob', signedIn(f.bob));
      for (const sid of ['sid-keep', 'sid-end-1', 'sid-end-2', 'sid-bob']) await get(f.store, sid);

      expect(f.store.revokeUserSessions(f.alice, 'password-changed', { exceptSid: 'sid-keep', by: 'alice' })).to.equal(2);
      expect(await get(f.store, 'sid-keep')).to.not.equal(null);
      expect(await get(f.store, 'sid-bob')).to.not.equal(null);
      for (const sid of ['sid-end-1', 'sid-end-2']) {
        expect(await get(f.store, sid)).to.equal(null);
        expect(rowOf(f.ctx, hashSessionId(sid))?.delete_reason).to.equal('password-changed');
      }
      expect(recentAudit(f.ctx, 10, 'session-revoked')).to.have.length(2);
    });
  });
});
