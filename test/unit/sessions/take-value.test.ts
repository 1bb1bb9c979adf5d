// takeSessionValue: a single-use value (a WebAuthn challenge) taken out of a live session's
// stored data in one statement, so that of two requests holding copies of one session
// only one gets it; the cache follows; ended sessions, other values and bad keys get nothing.

import { expect } from 'chai';
import type { SessionData } from 'express-session';
import { anonymous, get, issue, openStore, set, signedIn, type StoreFixture } from '../../support/session-store.js';

type WithChallenge = SessionData & { ceremony?: { challenge?: string; at: number } };

describe('session store: takeSessionValue', () => {
  let f: StoreFixture;
  beforeEach(() => {
    f = openStore();
  });
  afterEach(() => f.close());

  const withChallenge = (base: SessionData, challenge: string): WithChallenge => ({ ...base, ceremony: { challenge, at: f.clock.now() } });

  it('takes the value once: the first call gets true, the second false, and the rest of the data stays', async () => {
    await issue(f.store, 'sid-take', withChallenge(signedIn(f.alice), 'c-1'));
    await get(f.store, 'sid-take'); // warm the cache
    expect(f.store.takeSessionValue('sid-take', 'ceremony.challenge', 'c-1')).to.equal(true);
    expect(f.store.takeSessionValue('sid-take', 'ceremony.challenge', 'c-1')).to.equal(false);
    const after = (await get(f.store, 'sid-take')) as WithChallenge;
    expect(after.ceremony).to.deep.equal({ at: f.clock.now() });
    expect(after.passport).to.deep.equal({ user: f.alice });
  });

  it('works for a pre-login (uncached) session and a top-level key', async () => {
    await set(f.store, 'sid-anon', { ...anonymous(), token: 'x-1' } as unknown as SessionData);
    expect(f.store.takeSessionValue('sid-anon', 'token', 'x-2')).to.equal(false);
    expect(f.store.takeSessionValue('sid-anon', 'token', 'x-1')).to.equal(true);
    expect((await get(f.store, 'sid-anon')) as unknown).not.to.have.property('token');
  });

  it('gets nothing from another value, a non-string, an unknown or an ended session', async () => {
    await issue(f.store, 'sid-other', withChallenge(signedIn(f.alice), 'c-1'));
    expect(f.store.takeSessionValue('sid-other', 'ceremony.challenge', 'c-2')).to.equal(false);
    expect(f.store.takeSessionValue('sid-other', 'ceremony', 'c-1')).to.equal(false);
    expect(f.store.takeSessionValue('sid-other', 'ceremony.at', String(f.clock.now()))).to.equal(false);
    expect(f.store.takeSessionValue('no-such-session', 'ceremony.challenge', 'c-1')).to.equal(false);
    f.store.revoke('sid-other', 'logout');
    expect(f.store.takeSessionValue('sid-other', 'ceremony.challenge', 'c-1')).to.equal(false);
  });

  it('refuses a key that is not plain names (no JSON path syntax from callers)', () => {
    for (const key of ['', '$.a', 'a..b', 'a[0]', "a' OR 1", 'a.b.']) {
      expect(() => f.store.takeSessionValue('sid', key, 'v'), key).to.throw(RangeError);
    }
  });
});
