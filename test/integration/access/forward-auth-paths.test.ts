// Path and host rules cannot be dodged by how the original URL is written, at both
// endpoints through the real app: an original path whose meaning depends on who decodes it
// is refused with 400 (never matched loosely), plain dot segments and duplicate slashes are
// resolved before the rules see the path, `resources` ignore case, and a host's case or a
// trailing dot does not escape a domain rule.

import { expect } from 'chai';
import { Browser, type Reply } from '../../support/browser.js';
import { HTTPS, PORTAL } from '../../support/forward-auth.js';
import { addUser, GOOD_PASSWORD, startApp, type TestApp } from '../../support/harness.js';

const HOST = 'app.home.example';
const OPEN = 'open.home.example';

/**
 * The rules the hostile review used: a bypass prefix, an admins-only and a denied path
 * (resources see path and query, so an end anchor allows a "?": `([/?]|$)`).
 */
const CONFIG = {
  portal_url: PORTAL,
  session: { cookie_domain: 'home.example' },
  access_control: {
    default_policy: 'deny',
    rules: [
      { domain: HOST, resources: ['^/public/'], policy: 'bypass' },
      { domain: HOST, resources: ['^/admin([/?]|$)'], subject: ['group:admins'], policy: 'one_factor' },
      { domain: HOST, resources: ['^/files/private([/?]|$)'], policy: 'deny' },
      { domain: 'admin.home.example', subject: ['group:admins'], policy: 'one_factor' },
      // Open to anybody but three denied paths: a path that dodges them is opened.
      { domain: OPEN, resources: ['^/admin([/?]|$)', '^/secret([/?]|$)', '^/key([/?]|$)'], policy: 'deny' },
      { domain: OPEN, policy: 'bypass' },
      { domain: '*.home.example', policy: 'one_factor' },
    ],
  },
};

/** Original paths exactly as a client may send them, each with the reason it is refused. */
const REFUSED: Array<[path: string, reason: RegExp]> = [
  ['/public/..%2fadmin', /encoded "\/"/],
  ['/public/..%2Fadmin', /encoded "\/"/],
  ['/public/%2e%2e%2fadmin', /encoded "\/"/],
  ['/%2fadmin', /encoded "\/"/],
  ['/public/%5c..%5cadmin', /encoded "\\"/],
  ['/public/%5C../admin', /encoded "\\"/],
  ['/public\\..\\admin', /backslash/],
  ['/public/%2e%2e/admin', /encoded dot segment/],
  ['/public/.%2E/admin', /encoded dot segment/],
  ['/public/%2E./admin', /encoded dot segment/],
  ['/public/%2e/x', /encoded dot segment/],
  ['/public/..;/admin', /dot segment with ";"/],
  ['/public/.;/x', /dot segment with ";"/],
  ['/public/..;jsessionid=1/admin', /dot segment with ";"/],
  ['/public/..%3b/admin', /dot segment with ";"/],
  ['/public/...%20/admin', /dot segment/],
  ['/public/%00/../admin', /control character/],
  ['/public/a%0d%0aX:%20y', /control character/],
  ['/public/%zz', /percent-encoding/],
  ['/public/%', /percent-encoding/],
  ['/public/%2', /percent-encoding/],
  ['/public/%c0%ae%c0%ae/admin', /UTF-8/],
  ['/public/%c0%af', /UTF-8/],
  ['/public/%ff', /UTF-8/],
  ['/public//../admin', /"\/\/" before a "\.\."/],
  ['/public#/../admin', /"#"/],
  ['/admin;/users', /";", which Tomcat, Jetty, Spring and Undertow strip/],
  ['/admin%3B/users', /";"/],
  ['/admin./users', /ending in "\." or a space/],
  ['/admin::$INDEX_ALLOCATION/users', /NTFS stream suffix/],
  // Under the bypass prefix, what an upstream that decodes twice or applies NFKC serves as /admin.
  ['/public/%252e%252e/admin', /double percent-encoding/],
  ['/public/%EF%BC%8E%EF%BC%8E/admin', /non-ASCII character that case folding or NFKC turns into ASCII/],
];

/**
 * Original paths some upstreams serve as a path denied on the open host (hostile review):
 * each passed the old canonical path unchanged and dodged `^/admin([/?]|$)` and the like.
 */
const DODGES: Array<[path: string, upstream: string, reason: RegExp]> = [
  ['/admin;/users', 'Tomcat strips ";"', /";"/],
  ['/admin;jsessionid=x/users', 'Tomcat strips ";jsessionid"', /";"/],
  ['/admin;', 'the page itself', /";"/],
  ['/admin./users', 'Windows drops a trailing dot', /ending in "\." or a space/],
  ['/admin%2e/users', 'an encoded trailing dot', /ending in "\." or a space/],
  ['/admin%20/users', 'Windows drops a trailing space', /ending in "\." or a space/],
  ['/admin.%20./users', 'trailing dots and space', /ending in "\." or a space/],
  ['/admin::$INDEX_ALLOCATION/users', 'NTFS stream suffix: Windows opens admin\\users', /NTFS stream suffix/],
  ['/%C5%BFecret', 'ſ folds to s', /non-ASCII character/],
  ['/%E2%84%AAey', 'K (U+212A) folds to k', /non-ASCII character/],
];

describe('forward auth: one canonical path and host', () => {
  let app: TestApp;
  let member: Browser;
  let admin: Browser;
  const anonymous = () => new Browser(app.url, HTTPS);

  before(async () => {
    app = await startApp({ config: CONFIG });
    await addUser(app.ctx, 'alice', { groups: ['family'] });
    await addUser(app.ctx, 'zoe', { groups: ['admins'] });
    member = new Browser(app.url, HTTPS);
    admin = new Browser(app.url, HTTPS);
    expect((await member.login('alice', GOOD_PASSWORD)).status).to.equal(303);
    expect((await admin.login('zoe', GOOD_PASSWORD)).status).to.equal(303);
  });
  after(() => app.close());

  /** /auth/verify with X-Original-URL, the path exactly as given (nginx sends $request_uri). */
  const verify = (b: Browser, path: string, host = HOST) =>
    b.get('/auth/verify', { 'x-original-url': `https://${host}${path}`, 'x-original-method': 'GET' });
  /** /auth/forward with X-Forwarded-Uri exactly as given. */
  const forward = (b: Browser, path: string, host = HOST) =>
    b.get('/auth/forward', { 'x-forwarded-method': 'GET', 'x-forwarded-proto': 'https', 'x-forwarded-host': host, 'x-forwarded-uri': path, accept: 'text/html' });
  const both = async (b: Browser, path: string, host = HOST): Promise<Reply[]> => [await verify(b, path, host), await forward(b, path, host)];
  const statuses = async (b: Browser, path: string, host = HOST) => (await both(b, path, host)).map((r) => r.status);

  describe('an original path whose meaning depends on who decodes it is refused with 400', () => {
    for (const [path, reason] of REFUSED) {
      it(`${path}`, async () => {
        // A member and nobody alike: no session turns a refused path into a decision.
        for (const b of [member, anonymous()]) {
          for (const res of await both(b, path)) {
            expect(res.status, `${path} ${res.text}`).to.equal(400);
            expect(res.text).to.match(reason);
            expect(res.headers.get('remote-user')).to.equal(null);
            expect(res.location).to.equal(null);
          }
        }
      });
    }
  });

  describe('a path some upstreams serve as a denied one is refused, not opened', () => {
    it('control: the plain denied path is denied (403) at both endpoints', async () => {
      expect(await statuses(anonymous(), '/admin/users', OPEN)).to.deep.equal([403, 403]);
    });

    for (const [path, upstream, reason] of DODGES) {
      it(`${path} (${upstream})`, async () => {
        for (const res of await both(anonymous(), path, OPEN)) {
          expect(res.status, `${path} ${res.text}`).to.equal(400);
          expect(res.text).to.match(reason);
        }
      });
    }

    it('ordinary non-ASCII paths still pass, percent-encoded or as raw UTF-8', async () => {
      const raw = (path: string) => Buffer.from(path, 'utf8').toString('latin1');
      for (const path of ['/caf%C3%A9', '/%E5%86%99%E7%9C%9F/%F0%9F%98%80', raw('/café')]) {
        expect(await statuses(anonymous(), path, OPEN), path).to.deep.equal([200, 200]);
      }
      // Raw UTF-8 with bytes 0x80-0xA0 ("写" is E5 86 99): X-Original-URL refuses them as control characters.
      expect((await forward(anonymous(), raw('/写真/😀'), OPEN)).status).to.equal(200);
    });
  });

  describe('hostile original requests', () => {
    it('the named forms are refused (400), and hostile headers never give a 500', async () => {
      for (const path of ['/public/..;/admin', '/public/%2e%2e/admin', '/public/%c0%ae%c0%ae/admin', '/public/..%2fadmin', '/public/ ../admin']) {
        expect(await statuses(anonymous(), path), path).to.deep.equal([400, 400]);
      }
      const hostile: Array<Record<string, string>> = [
        { 'x-original-url': 'https://app.home.example/%', 'x-original-method': 'GET' },
        { 'x-original-url': 'https://app.home.example:99999/x', 'x-original-method': 'GET' },
        { 'x-original-url': 'https://[::1/x', 'x-original-method': 'GET' },
        { 'x-original-url': 'javascript:alert(1)', 'x-original-method': 'GET' },
        { 'x-original-url': `https://app.home.example/${'a/'.repeat(4000)}`, 'x-original-method': 'GET' },
        { 'x-original-url': 'https://app.home.example/\u00ff\u00fe', 'x-original-method': 'GET' },
        { 'x-forwarded-method': 'GET', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'app.home.example', 'x-forwarded-uri': '/?%' },
        { 'x-forwarded-method': 'GET', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'app.home.example', 'x-forwarded-uri': '/x?\u00ff#%zz' },
        { 'x-forwarded-method': 'GET', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'app.home.example:0', 'x-forwarded-uri': '/public/x' },
      ];
      for (const headers of hostile) {
        const endpoint = 'x-original-url' in headers ? '/auth/verify' : '/auth/forward';
        const res = await anonymous().request('GET', endpoint, { headers });
        expect(res.status, JSON.stringify(headers).slice(0, 120)).to.be.below(500);
      }
    });
  });

  describe('what the rules see', () => {
    it('the bypass prefix still opens /public/… to anybody', async () => {
      expect(await statuses(anonymous(), '/public/x?y=1')).to.deep.equal([200, 200]);
    });

    it('plain dot segments are resolved before matching: /public/../admin is /admin', async () => {
      expect(await statuses(member, '/public/../admin')).to.deep.equal([403, 403]);
      expect(await statuses(member, '/public/./../admin/x')).to.deep.equal([403, 403]);
      expect(await statuses(admin, '/public/../admin')).to.deep.equal([200, 200]);
    });

    it('duplicate slashes are collapsed before matching, as nginx does', async () => {
      expect(await statuses(member, '/files//private/x')).to.deep.equal([403, 403]);
      expect(await statuses(admin, '/files/private//')).to.deep.equal([403, 403]);
    });

    it('encoded unreserved characters are decoded: /%61dmin is /admin', async () => {
      expect(await statuses(member, '/%61dmin')).to.deep.equal([403, 403]);
    });

    it('a query string cannot change the path the rules see', async () => {
      expect(await statuses(member, '/admin?/public/')).to.deep.equal([403, 403]);
      expect(await statuses(anonymous(), '/x?p=/public/')).to.deep.equal([401, 302]);
    });
  });

  describe('resources ignore case, so an upstream that ignores case is not reached around a rule', () => {
    it('a subject rule on ^/admin holds for /ADMIN, /Admin/x and /%41dmin', async () => {
      for (const path of ['/ADMIN', '/Admin/x', '/aDmIn/', '/%41dmin']) {
        expect(await statuses(member, path), path).to.deep.equal([403, 403]);
        expect(await statuses(admin, path), path).to.deep.equal([200, 200]);
      }
    });

    it('a deny rule holds for /FILES/Private', async () => {
      expect(await statuses(admin, '/FILES/Private/x')).to.deep.equal([403, 403]);
    });

    it('a bypass rule on ^/public/ also opens /PUBLIC/ (what an upstream ignoring case serves as /public/)', async () => {
      expect(await statuses(anonymous(), '/PUBLIC/x')).to.deep.equal([200, 200]);
    });
  });

  describe('hosts (Authelia CVE-2026-48794, tinyauth CVE-2026-77560)', () => {
    it('a mixed-case host matches the same domain rules as the lower-case host', async () => {
      for (const host of ['Admin.Home.Example', 'ADMIN.HOME.EXAMPLE']) {
        expect(await statuses(member, '/', host), host).to.deep.equal([403, 403]);
        expect(await statuses(admin, '/', host), host).to.deep.equal([200, 200]);
        expect(await statuses(anonymous(), '/', host), host).to.deep.equal([401, 302]);
      }
    });

    it('a trailing-dot host never escapes a domain rule: it is refused with 400', async () => {
      for (const host of ['admin.home.example.', 'Admin.Home.Example.']) {
        for (const b of [member, admin, anonymous()]) {
          for (const res of await both(b, '/', host)) {
            expect(res.status, host).to.equal(400);
            expect(res.text).to.match(/not a host name/);
          }
        }
      }
    });
  });
});
