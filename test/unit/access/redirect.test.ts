// Safe post-login redirects (SECURITY.md "Redirects", ASVS 3.7.2): `rd` is honoured only
// for absolute https/wss URLs whose parsed host is the cookie domain or a subdomain of it.

import { expect } from 'chai';
import { safeLocalPath, safeRedirectTarget } from '../../../src/access/redirect.js';

const DOMAIN = 'home.example';

/** Hostile or merely unusable `rd` values, each with why it must be refused. */
const HOSTILE: Array<[rd: string, why: string]> = [
  ['//evil.example', 'protocol-relative'],
  ['///evil.example', 'triple slash'],
  ['//evil.example/https://app.home.example/', 'protocol-relative with a decoy'],
  ['\\\\evil.example', 'backslashes become slashes in browsers'],
  ['/\\evil.example', 'slash-backslash'],
  ['\\/evil.example', 'backslash-slash'],
  ['https://app.home.example\\@evil.example', 'backslash before @'],
  ['/relative/path', 'relative: not absolute'],
  ['app.home.example/x', 'no scheme'],
  ['https:evil.example', 'scheme without slashes'],
  ['https:/evil.example', 'scheme with one slash'],
  ['https://home.example.evil.com/', 'our domain as a prefix of another'],
  ['https://app.home.example.evil.com/', 'a subdomain as a prefix of another'],
  ['https://xhome.example/', 'a suffix match without the dot'],
  ['https://evilhome.example/', 'a suffix match without the dot (longer)'],
  ['https://home.example.com/', 'our name under another TLD'],
  ['https://user@evil.example/', 'userinfo'],
  ['https://home.example@evil.example/', 'our domain as the userinfo'],
  ['https://user:pass@app.home.example/', 'credentials even on our own host'],
  ['https://evil.example#.home.example', 'our domain in the fragment'],
  ['https://evil.example?.home.example', 'our domain in the query'],
  ['https://evil.example/.home.example', 'our domain in the path'],
  ['https://evil.example%2f.home.example', 'encoded slash in the host'],
  ['javascript:alert(1)', 'javascript:'],
  ['JavaScript://app.home.example/%0aalert(1)', 'javascript: dressed as a URL of ours'],
  ['data:text/html,<script>alert(1)</script>', 'data:'],
  ['vbscript:msgbox(1)', 'vbscript:'],
  ['file:///etc/passwd', 'file:'],
  ['http://app.home.example/', 'plain http'],
  ['ws://app.home.example/socket', 'plain ws'],
  ['ftp://app.home.example/', 'ftp'],
  ['https://app.home.example/%0d%0aSet-Cookie:%20x=1', 'encoded CR/LF in the path'],
  ['https://app.home.example/?q=%0D%0ALocation:%20https://evil.example', 'encoded CR/LF in the query (upper case)'],
  ['https://app.home.example/%00', 'encoded NUL'],
  ['https://app.home.example%0d%0a.evil.example/', 'encoded CR/LF in the host'],
  ['https://app.home.example/\r\nSet-Cookie: x=1', 'raw CR/LF'],
  ['https://app.home.example/\tx', 'raw tab (the URL parser would drop it)'],
  ['https://ev\nil.example.home.example/', 'raw newline in the host'],
  ['https://ev\til.example/', 'raw tab in a foreign host'],
  [' https://app.home.example/', 'leading space'],
  ['https://app.home.example/\u202e', 'bidi override'],
  ['https://app.home.example/\u0000', 'raw NUL'],
  ['https://h\u043eme.example/', 'Cyrillic о look-alike of our domain'],
  ['https://app.h\u043eme.example/', 'Cyrillic о look-alike under a subdomain'],
  ['https://xn--hme-sed.example/', 'punycode of the Cyrillic look-alike'],
  ['https://127.0.0.1/', 'IPv4 literal'],
  ['https://2130706433/', 'IPv4 literal as a number'],
  ['https://0x7f.0.0.1/', 'IPv4 literal in hex'],
  ['https://[::1]/', 'IPv6 literal'],
  ['https://home.example./', 'trailing dot on the apex'],
  ['https://app.home.example./', 'trailing dot on a subdomain'],
  ['https://app.home.example:99999/', 'port out of range'],
  ['wss://evil.example/', 'wss to another host'],
  [`https://app.home.example/${'a'.repeat(2100)}`, 'over-long'],
  [`https://${'a'.repeat(3000)}.home.example/`, 'over-long host'],
  ['', 'empty'],
];

const ACCEPTED: Array<[rd: string, expected: string]> = [
  ['https://home.example/', 'https://home.example/'],
  ['https://home.example', 'https://home.example/'],
  ['https://app.home.example/x?y=1#z', 'https://app.home.example/x?y=1#z'],
  // Parsed like a browser would, and the normalized form is what gets used.
  ['https:app.home.example', 'https://app.home.example/'],
  ['https://a.b.c.home.example/deep', 'https://a.b.c.home.example/deep'],
  ['wss://app.home.example/socket', 'wss://app.home.example/socket'],
  ['https://app.home.example:8443/p', 'https://app.home.example:8443/p'],
  ['https://app.home.example:443/p', 'https://app.home.example/p'],
  ['https://APP.Home.EXAMPLE/Path', 'https://app.home.example/Path'],
  ['https://app.home.example/a%20b?q=%2F', 'https://app.home.example/a%20b?q=%2F'],
];

describe('safe redirects (rd)', () => {
  it(`the hostile corpus has at least 25 entries (${HOSTILE.length})`, () => {
    expect(HOSTILE.length).to.be.at.least(25);
  });

  for (const [rd, why] of HOSTILE) {
    it(`refuses ${why}: ${JSON.stringify(rd.length > 60 ? `${rd.slice(0, 57)}...` : rd)}`, () => {
      expect(safeRedirectTarget(rd, DOMAIN)).to.equal(null);
    });
  }

  for (const [rd, expected] of ACCEPTED) {
    it(`accepts ${rd} as ${expected}`, () => {
      expect(safeRedirectTarget(rd, DOMAIN)).to.equal(expected);
    });
  }

  it('never follows userinfo: our domain before or after "@", or credentials on our own host (Pocket ID CVE-2026-28512)', () => {
    for (const rd of [
      'https://evil.example@home.example',
      'https://evil.example@home.example/',
      'https://evil.example@photos.home.example/x',
      'https://home.example@evil.example',
      'https://photos.home.example@evil.example/',
      'https://home.example:443@evil.example/',
      'https://user:pass@photos.home.example/',
      'https://user:@photos.home.example/',
      'https://:pass@photos.home.example/',
      'https://photos.home.example%40evil.example/',
      'https://evil.example%2f@photos.home.example/',
      'wss://evil.example@home.example/socket',
    ]) {
      expect(safeRedirectTarget(rd, DOMAIN), rd).to.equal(null);
    }
    // An empty userinfo is no userinfo: what is used is the parsed URL, without the "@".
    expect(safeRedirectTarget('https://@photos.home.example/', DOMAIN)).to.equal('https://photos.home.example/');
    // An "@" after the host is path or query, not userinfo: the host is still ours.
    expect(safeRedirectTarget('https://photos.home.example/@evil.example', DOMAIN)).to.equal('https://photos.home.example/@evil.example');
    expect(safeRedirectTarget('https://photos.home.example/?u=a@evil.example', DOMAIN)).to.equal('https://photos.home.example/?u=a@evil.example');
  });

  it('accepts exactly 2048 characters and refuses 2049', () => {
    const base = 'https://app.home.example/';
    expect(safeRedirectTarget(base + 'a'.repeat(2048 - base.length), DOMAIN)).to.be.a('string');
    expect(safeRedirectTarget(base + 'a'.repeat(2049 - base.length), DOMAIN)).to.equal(null);
  });

  it('refuses anything that is not a string', () => {
    for (const value of [undefined, null, 42, true, {}, ['https://app.home.example/'], { href: 'https://app.home.example/' }, new URL('https://app.home.example/')]) {
      expect(safeRedirectTarget(value, DOMAIN), String(value)).to.equal(null);
    }
  });

  it('refuses everything when no cookie domain is configured', () => {
    expect(safeRedirectTarget('https://home.example/', undefined)).to.equal(null);
    expect(safeRedirectTarget('https://app.home.example/x', undefined)).to.equal(null);
    expect(safeRedirectTarget('https://app.home.example/x', '')).to.equal(null);
  });

  it('a different cookie domain moves the boundary with it', () => {
    expect(safeRedirectTarget('https://app.home.example/', 'app.home.example')).to.equal('https://app.home.example/');
    expect(safeRedirectTarget('https://other.home.example/', 'app.home.example')).to.equal(null);
    expect(safeRedirectTarget('https://home.example/', 'app.home.example')).to.equal(null);
  });
});

describe('local return paths (after re-authentication or a forced password change)', () => {
  it('keeps plain absolute paths with their query', () => {
    expect(safeLocalPath('/admin/users/bob')).to.equal('/admin/users/bob');
    expect(safeLocalPath('/admin/audit?event=login-failed&user=a')).to.equal('/admin/audit?event=login-failed&user=a');
  });

  it('refuses anything that could leave gatehouse', () => {
    for (const path of [
      '//evil.example/',
      '/\\evil.example',
      '\\\\evil.example',
      'https://evil.example/',
      'javascript:alert(1)',
      'admin',
      '/%2F%2Fevil.example',
      '/.//evil.example',
      '/..//evil.example',
      '/a/..//evil.example',
      '/%2e//evil.example',
      '/%2E%2E//evil.example',
      '/%5Cevil.example',
      '/a\r\nSet-Cookie: x=1',
      '/a%0d%0aSet-Cookie:x',
      '/\tevil',
      '',
      `/${'a'.repeat(3000)}`,
    ]) {
      expect(safeLocalPath(path), JSON.stringify(path)).to.equal(null);
    }
    expect(safeLocalPath(['/admin'])).to.equal(null);
    expect(safeLocalPath(undefined)).to.equal(null);
  });
});
