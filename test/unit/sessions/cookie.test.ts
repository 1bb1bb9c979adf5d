// Reading the forward-auth cookie on the forward-auth path.

import { expect } from 'chai';
import { forwardHashOf, forwardToken, ForwardCookieReader } from '../../../src/sessions/cookie.js';

const SECRET = 'a-test-secret-that-is-long-enough-for-hmac';

describe('forward-auth cookie', () => {
  it('is a 256-bit keyed derivation of the session ID: another key or ID gives another value, the ID is not in it', () => {
    const token = forwardToken(SECRET, 'abc123');
    expect(token).to.match(/^[A-Za-z0-9_-]{43}$/);
    expect(forwardToken(SECRET, 'abc123')).to.equal(token);
    expect(forwardToken('another-secret-entirely-long-enough', 'abc123')).to.not.equal(token);
    expect(forwardToken(SECRET, 'abc124')).to.not.equal(token);
    expect(token).to.not.include('abc123');
  });

  it('reads the value and its hash from a Cookie header, among other cookies', () => {
    const reader = new ForwardCookieReader();
    const token = forwardToken(SECRET, 'abc123');
    const cookie = reader.read(`other=1; gh_forward=${token}; x=y`, 'gh_forward');
    expect(cookie).to.deep.equal({ token, hash: forwardHashOf(token) });
    if (cookie) reader.remember(cookie);
    expect(reader.read(`gh_forward=${token}`, 'gh_forward')).to.deep.equal({ token, hash: forwardHashOf(token) });
  });

  it('refuses values of the wrong shape, over-long headers and junk', () => {
    const reader = new ForwardCookieReader();
    const good = forwardToken(SECRET, 'abc123');
    for (const value of [`s:${good}`, good.slice(1), `${good}A`, `${good.slice(0, -1)}.`, 's:abc123.sig', '']) {
      expect(reader.read(`gh=${encodeURIComponent(value)}`, 'gh'), value).to.equal(null);
    }
    expect(reader.read(undefined, 'gh')).to.equal(null);
    expect(reader.read(`gh=${'x'.repeat(9000)}`, 'gh')).to.equal(null);
    expect(reader.read('gh=%E0%A4%A', 'gh')).to.equal(null);
  });

  it('with the cookie twice, the first decides (a second copy cannot lend its credential)', () => {
    const reader = new ForwardCookieReader();
    const good = forwardToken(SECRET, 'abc123');
    expect(reader.read(`gh=junk; gh=${good}`, 'gh')).to.equal(null);
    expect(reader.read(`gh=${good}; gh=junk`, 'gh')?.token).to.equal(good);
  });
});
