// The canonical path rules match (SECURITY.md "Access rules"): what is normalised (encoded
// unreserved characters, plain dot segments, "//"), and every form whose meaning depends on
// who decodes it, refused with a message that says which.

import { expect } from 'chai';
import { canonicalPath } from '../../../src/access/canonical-path.js';

/** A path's UTF-8 bytes one character per byte, as Node hands over a header value. */
function utf8AsHeader(path: string): string {
  return Buffer.from(path, 'utf8').toString('latin1');
}

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
  // Path parameters: Tomcat, Jetty, Spring and Undertow serve "/admin;x/users" as /admin/users
  // (and nginx decodes "%3B" into ";" before passing the path on).
  ['/admin;/users', /";", which Tomcat, Jetty, Spring and Undertow strip/],
  ['/admin;jsessionid=x/users', /";"/],
  ['/admin;', /";"/],
  ['/a;b=c', /";"/],
  ['/admin%3B/users', /";"/],
  ['/admin%3b', /";"/],
  // Windows drops trailing dots and spaces and reads "::$INDEX_ALLOCATION" as the directory.
  ['/admin./users', /segment ending in "\." or a space/],
  ['/admin%2e/users', /segment ending in "\." or a space/],
  ['/admin%20/users', /segment ending in "\." or a space/],
  ['/admin /users', /segment ending in "\." or a space/],
  ['/admin.%20./users', /segment ending in "\." or a space/],
  ['/admin.', /segment ending in "\." or a space/],
  ['/a/b%2E', /segment ending in "\." or a space/],
  ['/admin::$INDEX_ALLOCATION/users', /NTFS stream suffix/],
  ['/admin:$i30:$INDEX_ALLOCATION/users', /NTFS stream suffix/],
  ['/file.txt::$DATA', /NTFS stream suffix/],
  ['/a%3A%3A$DATA', /NTFS stream suffix/],
  ['/a::%24DATA', /NTFS stream suffix/],
  // An upstream that decodes twice: "%252e" is "%2e" after one decoding, "." after two.
  ['/public/%252e%252e/admin', /double percent-encoding/],
  ['/public/%252E%252E/admin', /double percent-encoding/],
  ['/%252fadmin', /double percent-encoding/],
  ['/a%25%32%65', /double percent-encoding/],
  ['/a%25%32e', /double percent-encoding/],
  // Non-ASCII characters that case folding (Java's equalsIgnoreCase, APFS) or NFKC turns into
  // ASCII, percent-encoded or as raw UTF-8 bytes.
  ['/%C5%BFecret', /non-ASCII character that case folding or NFKC turns into ASCII/],
  ['/%E2%84%AAey', /non-ASCII character/],
  ['/public/%EF%BC%8E%EF%BC%8E/admin', /non-ASCII character/],
  ['/%EF%AC%81le', /non-ASCII character/],
  ['/pa%C3%9Fword', /non-ASCII character/],
  ['/%E1%BA%9E', /non-ASCII character/],
  ['/%C4%B1d', /non-ASCII character/],
  ['/%C4%B0d', /non-ASCII character/],
  ['/%F0%9D%9A%A4d', /non-ASCII character/],
  ['/a%C2%A0', /non-ASCII character/],
  ['/%E2%91%A0', /non-ASCII character/],
  ['/public/%EF%BC%8Fadmin', /non-ASCII character/],
  [utf8AsHeader('/ſecret'), /non-ASCII character/],
  [utf8AsHeader('/caf\u00e9/\u212aey'), /non-ASCII character/],
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
      for (const raw of ['/', '/a', '/a/', '/a/b.c/d~e_f-g', "/a=b,c/e:f@g!$&'()*+", '/v1.2/x', '/a:b', '/a$b']) expect(canonical(raw), raw).to.equal(raw);
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
      expect(canonical('/a%3fb')).to.equal('/a%3Fb');
      expect(canonical('/100%25')).to.equal('/100%25');
      expect(canonical('/a%25zz/%25')).to.equal('/a%25zz/%25');
      expect(canonical('/a%20b%3f%23')).to.equal('/a%20b%3F%23');
      expect(canonical('/caf%c3%a9')).to.equal('/caf%C3%A9');
    });

    it('encodes raw UTF-8 bytes and characters a path may not hold, so both spellings are one path', () => {
      expect(canonical(Buffer.from('/café/日本', 'utf8').toString('latin1'))).to.equal('/caf%C3%A9/%E6%97%A5%E6%9C%AC');
      expect(canonical('/a"b<c>d`e{f}g|h^i[j]')).to.equal('/a%22b%3Cc%3Ed%60e%7Bf%7Dg%7Ch%5Ei%5Bj%5D');
      expect(canonical('/a%22b')).to.equal(canonical('/a"b'));
    });

    it('the result is ASCII only, so matching it without case folds ASCII only', () => {
      expect(canonical(utf8AsHeader('/café/写真/😀/Å'))).to.match(/^[\x21-\x7e]+$/);
    });

    it('keeps ordinary non-ASCII text (accents, CJK, emoji), whose case folding and NFKC stay non-ASCII', () => {
      expect(canonical(utf8AsHeader('/café/写真'))).to.equal('/caf%C3%A9/%E5%86%99%E7%9C%9F');
      expect(canonical('/%F0%9F%98%80/%C3%85ngstr%C3%B6m')).to.equal('/%F0%9F%98%80/%C3%85ngstr%C3%B6m');
      expect(canonical(utf8AsHeader('/Ελληνικά/русский/עברית'))).to.match(/^\/%CE%95/);
    });

    it('the fast path for plain ASCII answers as the full reading does', () => {
      // "/%61" is "/a", read the long way: both spellings must get the same answer.
      for (const rest of ['dmin/users', 'dmin./users', 'dmin;/users', 'dmin::$DATA', 'dmin/x.', 'dmin/.well-known/x', 'dmin/v1.2/x', 'dmin/a$b:c', 'dmin/./x/../y', 'dmin//x/', 'dmin/...']) {
        const fast = canonicalPath(`/a${rest}`);
        const full = canonicalPath(`/%61${rest}`);
        expect(fast, rest).to.deep.equal(full);
      }
    });
  });
});
