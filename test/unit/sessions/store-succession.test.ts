// The store's succession rule (Sessions.succeed; the checks in SqliteSessionEngine.succeed):
// the only way a signed-in row comes to be, refused in SQL when the session or the
// authentication it rests on has ended.

import { expect } from 'chai';
import { hashSessionId, SessionEndedError, type Succession } from '../../../src/sessions/store.js';
import { sha256Hex } from '../../../src/lib/crypto.js';
import { anonymous, get, issue, openStore, rowOf, set, signedIn, type StoreFixture } from '../../support/session-store.js';
import { recentAudit } from '../../support/audit.js';

describe('session store: succession', () => {
  let f: StoreFixture;
  beforeEach(() => {
    f = openStore();
  });
  afterEach(() => f.close());

  const renewal = (predecessor: string, successor: string, userId = f.alice): Succession => ({
    predecessor,
    successor,
    userId,
    data: signedIn(userId),
    forwardHash: sha256Hex(`forward ${successor}`),
  });
  const refused = (work: () => unknown, why: SessionEndedError['why']) => {
    expect(work).to.throw(SessionEndedError).with.property('why', why);
  };

  it('a renewal ends the live predecessor (regenerated) and inserts the successor under the same epoch', async () => {
    await issue(f.store, 'one', signedIn(f.alice));
    f.store.succeed(renewal('one', 'two'));
    expect(await get(f.store, 'one')).to.equal(null);
    expect(rowOf(f.ctx, hashSessionId('one'))).to.include({ delete_reason: 'regenerated' });
    expect(rowOf(f.ctx, hashSessionId('two'))).to.include({ user_id: f.alice, auth_epoch: 0, deleted_at: null });
  });

  it('refuses a renewal of an ended, expired, missing or pre-login predecessor, and writes nothing', async () => {
    await issue(f.store, 'ended', signedIn(f.alice));
    f.store.revoke('ended', 'logout');
    refused(() => f.store.succeed(renewal('ended', 's1')), 'predecessor-ended');
    refused(() => f.store.succeed(renewal('never-stored', 's2')), 'predecessor-ended');
    await set(f.store, 'pre-login', anonymous({ flash: [] }));
    refused(() => f.store.succeed(renewal('pre-login', 's3')), 'predecessor-ended');
    await issue(f.store, 'old', signedIn(f.alice));
    f.clock.advance(25 * 3_600_000);
    refused(() => f.store.succeed(renewal('old', 's4')), 'predecessor-ended');
    for (const sid of ['s1', 's2', 's3', 's4']) expect(rowOf(f.ctx, hashSessionId(sid)), sid).to.equal(undefined);
  });

  it('refuses a renewal for another user than the predecessor’s', async () => {
    await issue(f.store, 'alices', signedIn(f.alice));
    refused(() => f.store.succeed(renewal('alices', 'bobs', f.bob)), 'user-mismatch');
    expect(rowOf(f.ctx, hashSessionId('alices'))).to.include({ deleted_at: null });
  });

  it('revoke-all moves the epoch: a sign-in checked under the old epoch is refused, the spared session renews', async () => {
    await issue(f.store, 'kept', signedIn(f.alice));
    await issue(f.store, 'other', signedIn(f.alice));
    const epoch = f.store.epochOf(f.alice);
    f.store.revokeUserSessions(f.alice, 'password-changed', { exceptSid: 'kept' });
    expect(f.store.epochOf(f.alice)).to.equal(epoch + 1);
    refused(() => f.store.succeed({ ...renewal('fresh-pre-login', 'stale-sign-in'), epoch }), 'epoch-moved');
    f.store.succeed(renewal('kept', 'kept-renewed'));
    expect(rowOf(f.ctx, hashSessionId('kept-renewed'))).to.include({ auth_epoch: epoch + 1 });
    f.store.succeed({ ...renewal('another-pre-login', 'fresh-sign-in'), epoch: f.store.epochOf(f.alice) });
  });

  it('revoke-all sparing a session that already ended changes nothing', async () => {
    await issue(f.store, 'gone', signedIn(f.alice));
    await issue(f.store, 'other', signedIn(f.alice));
    f.store.revoke('gone', 'logout');
    const epoch = f.store.epochOf(f.alice);
    expect(() => f.store.revokeUserSessions(f.alice, 'revoked', { exceptSid: 'gone' })).to.throw(SessionEndedError);
    expect(f.store.epochOf(f.alice)).to.equal(epoch);
    expect(rowOf(f.ctx, hashSessionId('other'))).to.include({ deleted_at: null });
  });

  it('a sign-in that consumes its pending predecessor needs it live (a second use is refused)', async () => {
    await set(f.store, 'pending', anonymous());
    const epoch = f.store.epochOf(f.alice);
    f.store.succeed({ ...renewal('pending', 'first'), epoch, consume: true });
    refused(() => f.store.succeed({ ...renewal('pending', 'second'), epoch, consume: true }), 'predecessor-ended');
  });

  it('set() never inserts a signed-in row: saving sign-in data under an ID that was never issued is refused and audited', async () => {
    await set(f.store, 'forged', signedIn(f.alice));
    expect(rowOf(f.ctx, hashSessionId('forged'))).to.equal(undefined);
    expect(await get(f.store, 'forged')).to.equal(null);
    const audit = recentAudit(f.ctx, 5, 'session-resurrection-blocked');
    expect(audit[0]?.details).to.include({ state: 'never-issued' });
  });

  it('set() cannot turn a pre-login row into a signed-in one', async () => {
    await set(f.store, 'visitor', anonymous());
    await set(f.store, 'visitor', signedIn(f.alice));
    expect(rowOf(f.ctx, hashSessionId('visitor'))).to.include({ user_id: null });
  });

  it('finds a session by its forward-auth hash until it ends', async () => {
    await issue(f.store, 'fa', signedIn(f.alice));
    const forwardHash = sha256Hex('forward fa');
    expect(f.store.lookupForward(forwardHash)?.hash).to.equal(hashSessionId('fa'));
    expect(f.store.lookupForward(forwardHash)?.hash, 'again, from memory').to.equal(hashSessionId('fa'));
    expect(f.store.lookupForward(sha256Hex('forward other'))).to.equal(null);
    f.store.revoke('fa', 'logout');
    expect(f.store.lookupForward(forwardHash)).to.equal(null);
  });
});
