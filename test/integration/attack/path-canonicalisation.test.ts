// ATTACK (hostile review, branch h-attack): original paths that pass the canonical path
// unchanged, do not match a `resources` rule written the way the README recommends
// (`^/admin([/?]|$)`), and are still served as the protected path by some upstreams.
// These tests state the expected (safe) behaviour — refused with 400, or the protected rule
// applied — and FAIL on the current code where the path dodges the rule.
//
// Each is an upstream-dependent reading, the same class canonical-path.ts already refuses
// for "..;" (Tomcat/Jetty) and dot-only segments (Windows):
// - ";" path parameters on a non-dot segment: Tomcat, Jetty, Spring and Undertow strip
//   ";..." from every segment, so "/admin;x/users" is served as /admin/users.
// - a trailing dot or space on an ordinary segment: Windows (IIS, Kestrel static files,
//   any server on NTFS) drops them, so "/admin./users" opens admin\users.
// - double percent-encoding ("%252e%252e"): an upstream (or a second proxy) that decodes
//   once more sees "%2e%2e", then "..".
// - non-ASCII letters whose case folding is ASCII ("ſ" → s, Kelvin "K" → k): macOS APFS and
//   Java's equalsIgnoreCase fold them, the very upstreams the case-insensitive match is for;
//   fullwidth "．．" that an NFKC-normalising upstream reads as "..".

import { expect } from 'chai';
import { Browser, type Reply } from '../../support/browser.js';
import { HTTPS, PORTAL, verify } from '../../support/forward-auth.js';
import { startApp, type TestApp } from '../../support/harness.js';

const HOST = 'app.home.example';

/**
 * Anonymous requests. app: only /public/ is open (default deny). open: everything is open
 * but the denied /admin, /secret and /key.
 */
const CONFIG = {
  portal_url: PORTAL,
  session: { cookie_domain: 'home.example' },
  rate_limit: { max: 100_000 },
  access_control: {
    default_policy: 'deny',
    rules: [
      { domain: HOST, resources: ['^/public/'], policy: 'bypass' },
      { domain: 'open.home.example', resources: ['^/admin([/?]|$)', '^/secret([/?]|$)', '^/key([/?]|$)'], policy: 'deny' },
      { domain: 'open.home.example', policy: 'bypass' },
    ],
  },
};

describe('ATTACK: original paths that dodge a resources rule (expected to fail until fixed)', () => {
  let app: TestApp;
  let b: Browser;

  before(async () => {
    app = await startApp({ config: CONFIG });
    b = new Browser(app.url, HTTPS);
  });
  after(() => app.close());

  /** Caddy/Traefik's headers with the path exactly as written (support's forward() parses it with URL first). */
  const forwardRaw = (host: string, uri: string): Promise<Reply> =>
    b.request('GET', '/auth/forward', { headers: { 'x-forwarded-method': 'GET', 'x-forwarded-proto': 'https', 'x-forwarded-host': host, 'x-forwarded-uri': uri } });
  const both = async (host: string, path: string): Promise<[Reply, Reply]> => [await verify(b, `https://${host}${path}`), await forwardRaw(host, path)];

  it('control: the plain protected path is denied (403) at both endpoints', async () => {
    for (const res of await both('open.home.example', '/admin/users')) expect(res.status).to.equal(403);
  });

  /** Refused (400) or denied (403): anything but the bypass the open host grants. */
  async function expectNotOpened(host: string, path: string, why: string): Promise<void> {
    const [v, f] = await both(host, path);
    expect(v.status, `/auth/verify ${path} (${why})`).to.be.oneOf([400, 403]);
    expect(f.status, `/auth/forward ${path} (${why})`).to.be.oneOf([400, 403]);
  }

  it('";" path parameters on an ordinary segment ("/admin;x/users", Tomcat/Jetty/Spring read /admin/users)', async () => {
    await expectNotOpened('open.home.example', '/admin;/users', 'Tomcat strips ";"');
    await expectNotOpened('open.home.example', '/admin;jsessionid=x/users', 'Tomcat strips ";jsessionid"');
    await expectNotOpened('open.home.example', '/admin;', 'the page itself');
  });

  it('a trailing dot or space on an ordinary segment ("/admin./users", Windows drops it)', async () => {
    await expectNotOpened('open.home.example', '/admin./users', 'trailing dot');
    await expectNotOpened('open.home.example', '/admin%2e/users', 'encoded trailing dot');
    await expectNotOpened('open.home.example', '/admin%20/users', 'trailing space');
    await expectNotOpened('open.home.example', '/admin.%20./users', 'trailing dots and space');
    // NTFS alternate data stream name of a directory: Windows opens admin\users.
    await expectNotOpened('open.home.example', '/admin::$INDEX_ALLOCATION/users', 'NTFS stream suffix');
  });

  it('double percent-encoding of a dot segment under a bypass prefix ("/public/%252e%252e/admin")', async () => {
    // Default deny for everything but /public/: the bypass opens what a double-decoding
    // upstream serves as /admin.
    const [v, f] = await both(HOST, '/public/%252e%252e/admin');
    expect(v.status, 'verify').to.equal(400);
    expect(f.status, 'forward').to.equal(400);
  });

  it('non-ASCII letters that case-fold to the ASCII of a denied path ("ſecret", Kelvin-sign "Key")', async () => {
    await expectNotOpened('open.home.example', '/%C5%BFecret', 'ſ folds to s');
    await expectNotOpened('open.home.example', '/%E2%84%AAey', 'K (U+212A) folds to k');
    // Fullwidth full stops: NFKC makes them "..", under the bypass prefix.
    const [v, f] = await both(HOST, '/public/%EF%BC%8E%EF%BC%8E/admin');
    expect([v.status, f.status], 'fullwidth ".." under /public/').to.deep.equal([400, 400]);
  });

  it('held: the forms canonical-path.ts names are refused (400), and hostile headers never give a 500', async () => {
    for (const path of ['/public/..;/admin', '/public/%2e%2e/admin', '/public/%c0%ae%c0%ae/admin', '/public/..%2fadmin', '/public/ ../admin']) {
      const [v, f] = await both(HOST, path);
      expect(v.status, path).to.equal(400);
      expect(f.status, path).to.equal(400);
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
      const res = await b.request('GET', endpoint, { headers });
      expect(res.status, JSON.stringify(headers).slice(0, 120)).to.be.below(500);
    }
  });
});
