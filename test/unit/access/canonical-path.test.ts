// The canonical path rules match (SECURITY.md "Access rules"): what is normalised (encoded
// unreserved characters, plain dot segments, "//"), and every form whose meaning depends on
// who decodes it, refused with a message that says which.

import { expect } from 'chai';
import { canonicalPath } from '../../../src/access/canonical-path.js';

function canonical(raw: string): string {
  const result = canonicalPath(raw);
  if (!result.ok) expect.fail(`expected a canonical path for ${raw}, got "${result.message}"`);
  return result.path;
}

/** Refused paths (one Latin-1 character per byte, as Node reads headers), with the reason given. */
const REFUSED: Array<[raw: string, reason: RegExp]> = [
  ['/%2f', /encoded "\/" \(%2F\)/],
  ['/%2Fadmin', /encoded "\/" \(%2F\)/],
  ['/public/..%2fadmin', /encoded "\/" \(%2F\)/],
  ['/public/%2e%2e%2fadmin', /encoded "\/" \(%2F\)/],
  ['/public/%5c..%5cadmin', /encoded "\\" \(%5C\)/],
  ['/a%5Cb', /encoded "\\" \(%5C\)/],
  ['/public\\..\\admin', /backslash/],
  ['/a\\b', /backslash/],
  ['/a%00', /control character/],
  ['/a\u0000b', /control character/],
  ['/a%0d%0ab', /control character/],
  ['/a%7F', /control character/],
  ['/a\u001fb', /control character/],
  ['/%2e%2e/admin', /encoded dot segment/],
  ['/a/%2E%2E', /encoded dot segment/],
  ['/a/.%2e/b', /encoded dot segment/],
  ['/a/%2e./b', /encoded dot segment/],
  ['/a/%2e/b', /encoded dot segment/],
  ['/a/..;/b', /dot segment with ";"/],
  ['/a/.;/b', /dot segment with ";"/],
  ['/a/..;jsessionid=x/b', /dot segment with ";"/],
  ['/a/..%3B/b', /dot segment with ";"/],
  ['/a/%2e%2e;/b', /dot segment with ";"/],
  ['/a/.../b', /trailing dots or spaces/],
  ['/a/..%20/b', /trailing dots or spaces/],
  ['/a/.%20./b', /trailing dots or spaces/],
  ['/a%', /percent-encoding/],
  ['/a%2', /percent-encoding/],
  ['/a%zz', /percent-encoding/],
  ['/a%g0', /percent-encoding/],
  ['/a%%41', /percent-encoding/],
  ['/a%c0%ae', /UTF-8/],
  ['/%c0%ae%c0%ae/admin', /UTF-8/],
  ['/a%c0%af', /UTF-8/],
  ['/a%e0%80%af', /UTF-8/],
  ['/a%ff', /UTF-8/],
  ['/a%c3', /UTF-8/],
  ['/a%c3/b', /UTF-8/],
  ['/a%ed%a0%80', /UTF-8/],
  ['/a%f4%90%80%80', /UTF-8/],
  ['/a\u00c3', /UTF-8/],
  ['/a\u0100', /UTF-8/],
  ['/a//../admin', /"\/\/" before a "\.\." segment/],
  ['/a/b//..', /"\/\/" before a "\.\." segment/],
  ['/public#/../admin', /"#"/],
];

describe('the canonical path', () => {
  describe('is refused when its meaning depends on who decodes it', () => {
    for (const [raw, reason] of REFUSED) {
      it(JSON.stringify(raw), () => {
        const result = canonicalPath(raw);
        expect(result.ok).to.equal(false);
        if (!result.ok) expect(result.message).to.match(reason).and.match(/^The original path /);
      });
    }
  });

  describe('normalises what every server reads alike', () => {
    it('keeps a canonical path as it is', () => {
      for (const raw of ['/', '/a', '/a/', '/a/b.c/d~e_f-g', "/a;b=c,d/e:f@g!$&'()*+"]) expect(canonical(raw), raw).to.equal(raw);
    });

    it('resolves plain dot segments, never above the root', () => {
      expect(canonical('/a/./b/../c')).to.equal('/a/c');
      expect(canonical('/public/../admin')).to.equal('/admin');
      expect(canonical('/../admin')).to.equal('/admin');
      expect(canonical('/a/b/../../../admin')).to.equal('/admin');
      expect(canonical('/a/..')).to.equal('/');
      expect(canonical('/a/b/..')).to.equal('/a/');
      expect(canonical('/a/.')).to.equal('/a/');
      expect(canonical('/.')).to.equal('/');
    });

    it('collapses runs of "/" (as nginx merge_slashes does), keeping one trailing slash', () => {
      expect(canonical('/a//b')).to.equal('/a/b');
      expect(canonical('/a///b//')).to.equal('/a/b/');
      expect(canonical('/a//b/../c')).to.equal('/a/c');
    });

    it('decodes percent-encoded unreserved characters, in any hex case', () => {
      expect(canonical('/%61dmin')).to.equal('/admin');
      expect(canonical('/%41%44%4d%49%4E')).to.equal('/ADMIN');
      expect(canonical('/%7e%5F%2d%2E%30')).to.equal('/~_-.0');
      expect(canonical('/file%2ehtml')).to.equal('/file.html');
      expect(canonical('/.well-known/x')).to.equal('/.well-known/x');
    });

    it('keeps other percent-encoding, with upper-case hex', () => {
      expect(canonical('/a%3bb')).to.equal('/a%3Bb');
      expect(canonical('/a%20b%3f%23')).to.equal('/a%20b%3F%23');
      expect(canonical('/caf%c3%a9')).to.equal('/caf%C3%A9');
    });

    it('encodes raw UTF-8 bytes and characters a path may not hold, so both spellings are one path', () => {
      expect(canonical(Buffer.from('/café/日本', 'utf8').toString('latin1'))).to.equal('/caf%C3%A9/%E6%97%A5%E6%9C%AC');
      expect(canonical('/a"b<c>d`e{f}g|h^i[j]')).to.equal('/a%22b%3Cc%3Ed%60e%7Bf%7Dg%7Ch%5Ei%5Bj%5D');
      expect(canonical('/a%22b')).to.equal(canonical('/a"b'));
    });

    it('the result is ASCII only, so matching it without case folds ASCII only', () => {
      expect(canonical(Buffer.from('/ſ/K', 'utf8').toString('latin1'))).to.match(/^[\x21-\x7e]+$/);
    });
  });
});
