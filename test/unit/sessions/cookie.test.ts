// Reading the signed session cookie on the forward-auth path.

import signature from 'cookie-signature';
import { expect } from 'chai';
import { SessionCookieReader } from '../../../src/sessions/cookie.js';
import { hashSessionId } from '../../../src/sessions/store.js';

const SECRET = 'a-test-secret-that-is-long-enough-for-hmac';
const cookieFor = (sid: string, secret = SECRET) => `other=1; gh=${encodeURIComponent(`s:${signature.sign(sid, secret)}`)}; x=y`;

describe('session cookie reader', () => {
  it('reads the ID and its hash from a correctly signed cookie, again from memory', () => {
    const reader = new SessionCookieReader(SECRET);
    const header = cookieFor('abc123');
    expect(reader.read(header, 'gh')).to.deep.equal({ sid: 'abc123', hash: hashSessionId('abc123') });
    expect(reader.read(header, 'gh')).to.deep.equal({ sid: 'abc123', hash: hashSessionId('abc123') });
  });

  it('refuses a cookie signed with another secret, a tampered ID or signature, and junk', () => {
    const reader = new SessionCookieReader(SECRET);
    const good = `s:${signature.sign('abc123', SECRET)}`;
    for (const value of [
      `s:${signature.sign('abc123', 'another-secret-entirely')}`,
      good.replace('abc123', 'abc124'),
      `${good.slice(0, -1)}${good.endsWith('A') ? 'B' : 'A'}`,
      'abc123',
      's:abc123',
      's:',
      '',
    ]) {
      expect(reader.read(`gh=${encodeURIComponent(value)}`, 'gh'), value).to.equal(null);
    }
    expect(reader.read(undefined, 'gh')).to.equal(null);
    expect(reader.read(`gh=${'x'.repeat(9000)}`, 'gh')).to.equal(null);
    expect(reader.read('gh=%E0%A4%A', 'gh')).to.equal(null);
  });

  it('never remembers a forged value as valid after seeing the real one', () => {
    const reader = new SessionCookieReader(SECRET);
    reader.read(cookieFor('abc123'), 'gh');
    const forged = `gh=${encodeURIComponent(`s:abc123.${'A'.repeat(43)}`)}`;
    expect(reader.read(forged, 'gh')).to.equal(null);
  });
});
