// The forward-auth endpoints through the real app over real HTTP: /auth/verify (nginx
// auth_request) and /auth/forward (Caddy, Traefik). Allowed with Remote-* headers; 401 with
// the portal Location, or 302/303 for a browser; 403 when signed in but not allowed; 400
// for missing or malformed forwarded headers; sign-in through the portal back to `rd`.

import { expect } from 'chai';
import { Browser, type Reply } from '../../support/browser.js';
import { forward, forwardAuthConfig, HTTPS, PORTAL, rawGet, verify } from '../../support/forward-auth.js';
import { addUser, GOOD_PASSWORD, startApp, type TestApp } from '../../support/harness.js';

const loginUrl = (original: string) => `${PORTAL}/login?rd=${encodeURIComponent(original)}`;
const HTML = { accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8' };

function expectRemoteHeaders(res: Reply, expected: { user: string; groups: string; name: string; email: string }): void {
  expect(res.headers.get('remote-user')).to.equal(expected.user);
  expect(res.headers.get('remote-groups')).to.equal(expected.groups);
  expect(res.headers.get('remote-name')).to.equal(expected.name);
  expect(res.headers.get('remote-email')).to.equal(expected.email);
}

function expectNoRemoteHeaders(res: Reply): void {
  for (const name of ['remote-user', 'remote-groups', 'remote-name', 'remote-email']) expect(res.headers.get(name), name).to.equal(null);
}

describe('forward auth endpoints', () => {
  let app: TestApp;
  let member: Browser;
  let admin: Browser;
  const anonymous = () => new Browser(app.url, HTTPS);

  before(async () => {
    app = await startApp({ config: forwardAuthConfig() });
    await addUser(app.ctx, 'alice', { groups: ['family'] });
    await app.ctx.accounts.create({ username: 'zoe', password: GOOD_PASSWORD, displayName: 'Zoë 山田', email: 'zoe@home.example', groups: ['family', 'admins'], by: 'test' });
    member = new Browser(app.url, HTTPS);
    admin = new Browser(app.url, HTTPS);
    expect((await member.login('alice', GOOD_PASSWORD)).status).to.equal(303);
    expect((await admin.login('zoe', GOOD_PASSWORD)).status).to.equal(303);
    expect([...member.cookies.keys()]).to.include.members(['__Host-gatehouse', '__Secure-gatehouse_forward']);
  });
  after(() => app.close());

  describe('allowed', () => {
    it('verify answers 200 with Remote-User, Remote-Groups, Remote-Name and Remote-Email', async () => {
      const res = await verify(member, 'https://app.home.example/x?y=1');
      expect(res.status).to.equal(200);
      expectRemoteHeaders(res, { user: 'alice', groups: 'family', name: 'alice', email: '' });
      expect(res.headers.get('cache-control')).to.equal('no-store');
    });

    it('forward answers 200 with the same headers; groups are comma-separated', async () => {
      const res = await forward(admin, 'https://app.home.example/x', { headers: HTML });
      expect(res.status).to.equal(200);
      expect(res.headers.get('remote-user')).to.equal('zoe');
      expect(res.headers.get('remote-groups')).to.equal('admins,family');
      expect(res.headers.get('remote-email')).to.equal('zoe@home.example');
    });

    it('sends a non-ASCII display name as UTF-8 bytes', async () => {
      const headers = { cookie: admin.cookieHeader(), 'x-original-url': 'https://app.home.example/', 'x-original-method': 'GET' };
      const res = await rawGet(app.url, '/auth/verify', headers);
      expect(res.status).to.equal(200);
      expect(res.utf8('remote-name')).to.equal('Zoë 山田');
      expect(res.utf8('remote-user')).to.equal('zoe');
    });

    it('answers on its fast path, outside the Express chain (no page security headers)', async () => {
      const res = await verify(member, 'https://app.home.example/');
      expect(res.status).to.equal(200);
      expect(res.headers.get('content-security-policy')).to.equal(null);
      expect(res.headers.get('x-powered-by')).to.equal(null);
    });

    it('works for HEAD subrequests: status and headers, no body', async () => {
      const ok = await verify(member, 'https://app.home.example/', { as: 'HEAD' });
      expect(ok.status).to.equal(200);
      expect(ok.headers.get('remote-user')).to.equal('alice');
      expect(ok.text).to.equal('');
      const redirect = await forward(anonymous(), 'https://app.home.example/', { as: 'HEAD', headers: HTML });
      expect(redirect.status).to.equal(302);
      expect(redirect.location).to.equal(loginUrl('https://app.home.example/'));
    });

    it('lets the admin onto the admins-only host', async () => {
      expect((await verify(admin, 'https://admin.home.example/')).status).to.equal(200);
      expect((await forward(admin, 'https://admin.home.example/')).status).to.equal(200);
    });

    it('lets anybody onto the bypass host, with empty identity headers', async () => {
      for (const res of [await verify(anonymous(), 'https://public.home.example/x'), await forward(anonymous(), 'https://public.home.example/x', { headers: HTML })]) {
        expect(res.status).to.equal(200);
        expectRemoteHeaders(res, { user: '', groups: '', name: '', email: '' });
      }
    });
  });

  describe('no valid session', () => {
    it('verify: 401 with Location = the portal login URL carrying the original URL as rd', async () => {
      const res = await verify(anonymous(), 'https://app.home.example/x?y=1&z=a%20b');
      expect(res.status).to.equal(401);
      expect(res.location).to.equal(loginUrl('https://app.home.example/x?y=1&z=a%20b'));
      expectNoRemoteHeaders(res);
    });

    it('verify: 401 whatever the client accepts (nginx turns it into the redirect)', async () => {
      expect((await verify(anonymous(), 'https://app.home.example/', { headers: HTML })).status).to.equal(401);
    });

    it('forward: 302 to the portal for a browser', async () => {
      const res = await forward(anonymous(), 'https://app.home.example:8443/photos?album=1', { headers: HTML });
      expect(res.status).to.equal(302);
      expect(res.location).to.equal(loginUrl('https://app.home.example:8443/photos?album=1'));
    });

    it('forward: 302 for HEAD, 303 when the original method is POST, PUT or DELETE', async () => {
      expect((await forward(anonymous(), 'https://app.home.example/', { method: 'HEAD', headers: HTML })).status).to.equal(302);
      for (const method of ['POST', 'PUT', 'DELETE']) {
        const res = await forward(anonymous(), 'https://app.home.example/form', { method, headers: HTML });
        expect(res.status, method).to.equal(303);
        expect(res.location).to.equal(loginUrl('https://app.home.example/form'));
      }
    });

    it('forward: 401 for XHR, JSON clients and clients that do not ask for HTML', async () => {
      const cases: Array<Record<string, string>> = [
        { ...HTML, 'x-requested-with': 'XMLHttpRequest' },
        { accept: 'application/json' },
        { accept: '*/*' },
        {},
      ];
      for (const headers of cases) {
        const res = await forward(anonymous(), 'https://app.home.example/api/items', { headers });
        expect(res.status, JSON.stringify(headers)).to.equal(401);
        expectNoRemoteHeaders(res);
      }
    });

    it('a forged, altered or foreign cookie counts as no session', async () => {
      const real = member.cookies.get('__Secure-gatehouse_forward') as string;
      const portal = member.cookies.get('__Host-gatehouse') as string;
      for (const cookie of [
        '__Secure-gatehouse_forward=s:forged.sig',
        `__Secure-gatehouse_forward=${real.replace(/.$/, (c) => (c === 'A' ? 'B' : 'A'))}`,
        `__Secure-gatehouse_forward=${real}A`,
        '__Secure-gatehouse_forward=%%%',
        `gatehouse_forward=${real}`,
        // The portal's own cookie (the session ID) is not a forward-auth credential.
        `__Host-gatehouse=${portal}`,
        `__Secure-gatehouse=${portal}`,
        `__Secure-gatehouse_forward=${portal}`,
      ]) {
        expect((await verify(anonymous(), 'https://app.home.example/', { headers: { cookie } })).status, cookie).to.equal(401);
      }
    });

    it('malformed or duplicated forward-auth cookies fail closed (Authentik CVE-2026-25748)', async () => {
      const real = member.cookies.get('__Secure-gatehouse_forward') as string;
      for (const cookie of [
        `__Secure-gatehouse_forward=junk; __Secure-gatehouse_forward=${real}`,
        `__Secure-gatehouse_forward=; __Secure-gatehouse_forward=${real}`,
        `__Secure-gatehouse_forward="${real}`,
        `__Secure-gatehouse_forward=${'A'.repeat(43)}; __Secure-gatehouse_forward=${real}`,
        `=${real}; ;;; __Secure-gatehouse_forward`,
        `__Secure-gatehouse_forward=${'x'.repeat(9000)}`,
      ]) {
        const res = await verify(anonymous(), 'https://app.home.example/', { headers: { cookie } });
        expect(res.status, cookie).to.equal(401);
        expectNoRemoteHeaders(res);
      }
      // The genuine cookie first decides, whatever junk follows.
      const first = await verify(anonymous(), 'https://app.home.example/', { headers: { cookie: `__Secure-gatehouse_forward=${real}; __Secure-gatehouse_forward=junk` } });
      expect(first.status).to.equal(200);
    });

    it('the __Secure- cookie does not count for an original request over plain http', async () => {
      const res = await verify(member, 'http://app.home.example/');
      expect(res.status).to.equal(401);
    });
  });

  describe('not allowed', () => {
    it('403 for a member on the admins-only host, on both endpoints', async () => {
      const v = await verify(member, 'https://admin.home.example/');
      const f = await forward(member, 'https://admin.home.example/', { headers: HTML });
      for (const res of [v, f]) {
        expect(res.status).to.equal(403);
        expect(res.location).to.equal(null);
        expectNoRemoteHeaders(res);
      }
    });

    it('anonymous on the admins-only host is sent to sign in first', async () => {
      expect((await verify(anonymous(), 'https://admin.home.example/')).status).to.equal(401);
    });

    it('403 on a two_factor host for a signed-in user without a second factor (no step could satisfy it)', async () => {
      expect((await verify(admin, 'https://vault.home.example/')).status).to.equal(403);
      expect((await verify(anonymous(), 'https://vault.home.example/')).status).to.equal(401);
    });

    it('403 for a host outside every rule (default deny), signed in or not', async () => {
      expect((await verify(admin, 'https://other.example/')).status).to.equal(403);
      expect((await verify(anonymous(), 'https://other.example/')).status).to.equal(403);
    });
  });

  describe('the endpoints themselves', () => {
    it('refuses POST (and other methods) with 405 and Allow', async () => {
      for (const path of ['/auth/verify', '/auth/forward']) {
        for (const method of ['POST', 'PUT', 'DELETE']) {
          const res = await member.request(method, path, { headers: { 'x-original-url': 'https://app.home.example/', 'x-original-method': 'GET' } });
          expect(res.status, `${method} ${path}`).to.equal(405);
          expect(res.headers.get('allow')).to.equal('GET, HEAD');
        }
      }
    });

    it('ignores a query string on the endpoint path', async () => {
      const res = await member.request('GET', '/auth/verify?x=1', { headers: { 'x-original-url': 'https://app.home.example/', 'x-original-method': 'GET' } });
      expect(res.status).to.equal(200);
    });
  });

  describe('missing or malformed forwarded headers → 400 with a clear message', () => {
    const cases: Array<[name: string, path: string, headers: Record<string, string>, message: RegExp]> = [
      ['verify without any original-request header', '/auth/verify', {}, /method header is missing/],
      ['verify with a relative X-Original-URL', '/auth/verify', { 'x-original-url': '/x', 'x-original-method': 'GET' }, /X-Original-URL is not an absolute URL/],
      ['verify with credentials in X-Original-URL', '/auth/verify', { 'x-original-url': 'https://a:b@app.home.example/', 'x-original-method': 'GET' }, /credentials/],
      ['verify without X-Original-Method', '/auth/verify', { 'x-original-url': 'https://app.home.example/' }, /method header is missing/],
      ['verify with a bogus method', '/auth/verify', { 'x-original-url': 'https://app.home.example/', 'x-original-method': 'G3T' }, /not an HTTP method/],
      ['verify with an ftp URL', '/auth/verify', { 'x-original-url': 'ftp://app.home.example/', 'x-original-method': 'GET' }, /http or https/],
      ['verify with an over-long URL', '/auth/verify', { 'x-original-url': `https://app.home.example/${'a'.repeat(8200)}`, 'x-original-method': 'GET' }, /too long/],
      ['forward without X-Forwarded-Host', '/auth/forward', { 'x-forwarded-method': 'GET', 'x-forwarded-proto': 'https', 'x-forwarded-uri': '/' }, /host header is missing/],
      ['forward with a host carrying userinfo', '/auth/forward', { 'x-forwarded-method': 'GET', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'evil@app.home.example', 'x-forwarded-uri': '/' }, /not a host name/],
      ['forward without X-Forwarded-Uri', '/auth/forward', { 'x-forwarded-method': 'GET', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'app.home.example' }, /URI header is missing/],
      ['forward with a "//" URI', '/auth/forward', { 'x-forwarded-method': 'GET', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'app.home.example', 'x-forwarded-uri': '//evil.example/' }, /not an absolute path/],
      ['forward with a bogus protocol', '/auth/forward', { 'x-forwarded-method': 'GET', 'x-forwarded-proto': 'gopher', 'x-forwarded-host': 'app.home.example', 'x-forwarded-uri': '/' }, /http or https/],
      ['forward without X-Forwarded-Method', '/auth/forward', { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'app.home.example', 'x-forwarded-uri': '/' }, /method header is missing/],
    ];
    for (const [name, path, headers, message] of cases) {
      it(name, async () => {
        // With a valid session: a malformed request is never answered 200.
        const res = await member.request('GET', path, { headers: { ...headers, 'x-forwarded-proto': headers['x-forwarded-proto'] ?? 'https' } });
        expect(res.status).to.equal(400);
        expect(res.text).to.match(message);
        expect(res.headers.get('content-type')).to.match(/^text\/plain/);
        expectNoRemoteHeaders(res);
      });
    }
  });

  describe('sign-in through the portal and back', () => {
    it('follows the redirect to the login page, signs in, and lands on the original URL', async () => {
      const b = anonymous();
      const original = 'https://app.home.example/x?y=1&z=%C3%A9';
      const refused = await forward(b, original, { headers: HTML });
      expect(refused.status).to.equal(302);
      const portal = new URL(refused.location as string);
      expect(portal.origin).to.equal(PORTAL);
      // The portal is this app: the same path and query, asked of it directly.
      const page = await b.get(`${portal.pathname}${portal.search}`);
      expect(page.status).to.equal(200);
      const rd = /name="rd" value="([^"]+)"/.exec(page.text)?.[1]?.replace(/&amp;/g, '&');
      expect(rd).to.equal(original);
      const res = await b.login('alice', GOOD_PASSWORD, { rd: rd as string });
      expect(res.status).to.equal(303);
      expect(res.location).to.equal(original);
      expect((await forward(b, original, { headers: HTML })).status).to.equal(200);
    });

    it('lands on rd=https://app.home.example/x after sign-in', async () => {
      const res = await anonymous().login('alice', GOOD_PASSWORD, { rd: 'https://app.home.example/x' });
      expect(res.status).to.equal(303);
      expect(res.location).to.equal('https://app.home.example/x');
    });

    it('an already signed-in visitor of /login?rd=… goes straight to rd', async () => {
      const res = await member.get(`/login?rd=${encodeURIComponent('https://app.home.example/y')}`);
      expect(res.status).to.equal(303);
      expect(res.location).to.equal('https://app.home.example/y');
    });

    // Userinfo around our domain: Pocket ID CVE-2026-28512.
    for (const rd of ['//evil.example/', 'https://home.example.evil.com/', 'https://user@evil.example/', 'https://evil.example@home.example/', 'https://home.example@evil.example/', 'https://user:pass@photos.home.example/', 'javascript:alert(1)', 'https://app.home.example/%0d%0aSet-Cookie:%20x=1', 'http://app.home.example/']) {
      it(`a hostile rd lands on "/": ${rd}`, async () => {
        const b = anonymous();
        const page = await b.get(`/login?rd=${encodeURIComponent(rd)}`);
        expect(page.text).not.to.contain('name="rd"');
        const res = await b.login('alice', GOOD_PASSWORD, { rd });
        expect(res.status).to.equal(303);
        expect(res.location).to.equal('/');
      });
    }
  });
});
