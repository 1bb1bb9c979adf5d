// Cookie attributes by transport, trusted-proxy handling of X-Forwarded-*, and the IP a
// session is bound to at sign-in.

import { request } from 'node:http';
import { expect } from 'chai';
import { Browser } from '../../support/browser.js';
import { addUser, GOOD_PASSWORD, startApp, type TestApp } from '../../support/harness.js';

const boundIps = (app: TestApp) =>
  (app.ctx.db.prepare('SELECT bound_ip FROM sessions WHERE user_id IS NOT NULL').pluck().all() as string[]);

describe('cookies and proxies', () => {
  let app: TestApp | undefined;
  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  async function start(config: Record<string, unknown> = {}): Promise<TestApp> {
    app = await startApp({ config });
    await addUser(app.ctx, 'alice');
    return app;
  }

  it('over plain HTTP on localhost: HttpOnly, SameSite=Lax, Path=/, no Secure, bare name', async () => {
    const a = await start();
    const res = await new Browser(a.url).login('alice', GOOD_PASSWORD);
    const cookie = res.setCookies.find((c) => c.startsWith('gatehouse=')) ?? '';
    expect(cookie).to.match(/; Path=\/(;|$)/).and.match(/HttpOnly/).and.match(/SameSite=Lax/);
    expect(cookie).not.to.match(/Secure/);
  });

  it('over HTTPS via a trusted proxy: __Host- prefix, Secure, no Domain', async () => {
    const a = await start();
    const https = { 'x-forwarded-proto': 'https' };
    const b = new Browser(a.url, https);
    const res = await b.login('alice', GOOD_PASSWORD);
    const cookie = res.setCookies.find((c) => c.startsWith('__Host-gatehouse=')) ?? '';
    expect(cookie).to.match(/Secure/).and.match(/HttpOnly/).and.match(/SameSite=Lax/).and.match(/Path=\//);
    expect(cookie).not.to.match(/Domain=/i);
    expect((await b.get('/')).status).to.equal(200);
  });

  it('with a cookie domain: the portal cookie stays __Host- (no Domain); the forward-auth cookie is __Secure- with the Domain', async () => {
    const a = await start({ session: { cookie_domain: 'home.example' } });
    const res = await new Browser(a.url, { 'x-forwarded-proto': 'https' }).login('alice', GOOD_PASSWORD);
    const portal = res.setCookies.find((c) => c.startsWith('__Host-gatehouse=')) ?? '';
    expect(portal).to.match(/Secure/).and.match(/HttpOnly/).and.match(/SameSite=Lax/).and.match(/Path=\//);
    expect(portal).not.to.match(/Domain=/i);
    const forward = res.setCookies.find((c) => c.startsWith('__Secure-gatehouse_forward=')) ?? '';
    expect(forward).to.match(/Domain=home\.example/).and.match(/Secure/).and.match(/HttpOnly/).and.match(/SameSite=Lax/);
    expect(res.setCookies.filter((c) => /^__Secure-gatehouse=/.test(c)), 'no shared portal cookie any more').to.deep.equal([]);
  });

  it('ignores X-Forwarded-Proto from a peer that is not a trusted proxy', async () => {
    // allow_insecure_http: otherwise the forwarding header alone gets "HTTPS required".
    const a = await start({ server: { trusted_proxies: ['10.1.2.3'], allow_insecure_http: true } });
    const res = await new Browser(a.url, { 'x-forwarded-proto': 'https' }).login('alice', GOOD_PASSWORD);
    expect(res.setCookies.some((c) => c.startsWith('gatehouse='))).to.equal(true);
    expect(res.setCookies.some((c) => c.startsWith('__Host-'))).to.equal(false);
  });

  it('binds the session to the client IP that a trusted proxy reports', async () => {
    const a = await start();
    await new Browser(a.url, { 'x-forwarded-for': '203.0.113.7', 'x-forwarded-proto': 'https' }).login('alice', GOOD_PASSWORD);
    expect(boundIps(a)).to.deep.equal(['203.0.113.7']);
  });

  it('reads X-Forwarded-For from the right: a client-supplied left part is ignored', async () => {
    const a = await start();
    // The client sent "1.2.3.4"; the (trusted, loopback) proxy appended the real peer.
    await new Browser(a.url, { 'x-forwarded-for': '1.2.3.4, 198.51.100.9', 'x-forwarded-proto': 'https' }).login('alice', GOOD_PASSWORD);
    expect(boundIps(a)).to.deep.equal(['198.51.100.9']);
  });

  it('ignores a spoofed X-Forwarded-For from a peer that is not a trusted proxy', async () => {
    const a = await start({ server: { trusted_proxies: ['10.1.2.3'] } });
    await new Browser(a.url, { 'x-forwarded-for': '203.0.113.7' }).login('alice', GOOD_PASSWORD);
    expect(boundIps(a)).to.deep.equal(['127.0.0.1']);
  });

  it('refuses password entry over plain HTTP from another machine', async () => {
    const a = await start();
    const lan = new Browser(a.url, { 'x-forwarded-for': '192.168.1.50' });
    const page = await lan.get('/login');
    expect(page.status).to.equal(403);
    expect(page.text).to.contain('HTTPS required');
    expect(lan.cookies.size).to.equal(0);
    const post = await lan.post('/login', { username: 'alice', password: GOOD_PASSWORD });
    expect(post.status).to.equal(403);
  });

  it('refuses every other password form over plain HTTP from another machine too', async () => {
    // Binding off: the session signed in locally is then used from the LAN address.
    const a = await start({ session: { ip_binding: 'off' } });
    await addUser(a.ctx, 'root', { groups: ['admins'] });
    const local = new Browser(a.url);
    expect((await local.login('root', GOOD_PASSWORD)).status).to.equal(303);
    const csrf = await local.csrf('/account');
    const lan = new Browser(a.url, { 'x-forwarded-for': '192.168.1.50', cookie: local.cookieHeader() });
    expect((await lan.get('/account')).status, 'pages without a password field stay reachable').to.equal(200);
    for (const path of ['/account/password', '/reauth']) expect((await lan.get(path)).status, path).to.equal(403);
    const forms: Array<[string, Record<string, string>]> = [
      ['/account/password', { current_password: GOOD_PASSWORD, new_password: 'seven quiet lanterns glow', new_password_confirm: 'seven quiet lanterns glow' }],
      ['/account/delete-request', { password: GOOD_PASSWORD }],
      ['/reauth', { password: GOOD_PASSWORD, rd: '/admin' }],
      ['/admin/users', { username: 'eve', password: 'seven quiet lanterns glow', password_confirm: 'seven quiet lanterns glow' }],
      ['/admin/users/alice/password', { password: 'seven quiet lanterns glow', password_confirm: 'seven quiet lanterns glow' }],
    ];
    for (const [path, form] of forms) {
      const res = await lan.post(path, { _csrf: csrf, ...form });
      expect(res.status, path).to.equal(403);
      expect(res.text, path).to.contain('HTTPS required');
    }
    for (const [method, path, body] of [
      ['PUT', '/api/v1/me/password', { current_password: GOOD_PASSWORD, new_password: 'seven quiet lanterns glow' }],
      ['POST', '/api/v1/me/reauth', { password: GOOD_PASSWORD }],
    ] as const) {
      const res = await lan.request(method, path, { body: JSON.stringify(body), headers: { 'content-type': 'application/json', 'x-csrf-token': csrf } });
      expect(res.status, path).to.equal(403);
      expect(JSON.parse(res.text).error.code, path).to.equal('https-required');
    }
    expect(a.ctx.users.findByUsername('eve')).to.equal(null);
    expect((await a.ctx.accounts.verifyCredentials('root', GOOD_PASSWORD)).ok).to.equal(true);
    expect(a.ctx.users.findByUsername('alice')?.mustChangePassword).to.equal(false);
  });

  it('treats a local proxy that hides the client (no X-Forwarded-For) as not local', async () => {
    const a = await start();
    const viaLocalProxy = new Browser(a.url, { via: '1.1 nginx', 'x-forwarded-proto': 'http' });
    expect((await viaLocalProxy.get('/login')).status).to.equal(403);
    expect((await new Browser(a.url).get('/login')).status).to.equal(200);
  });

  it('allows it when server.allow_insecure_http is set', async () => {
    const a = await start({ server: { allow_insecure_http: true } });
    const res = await new Browser(a.url, { 'x-forwarded-for': '192.168.1.50' }).login('alice', GOOD_PASSWORD);
    expect(res.status).to.equal(303);
  });
});

describe('security headers', () => {
  let app: TestApp;
  before(async () => {
    app = await startApp();
  });
  after(() => app.close());

  it('sends a strict CSP and the protective headers on pages', async () => {
    const res = await new Browser(app.url).get('/login');
    const csp = res.headers.get('content-security-policy') ?? '';
    for (const directive of ["default-src 'self'", "object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'", "script-src 'self'"]) {
      expect(csp).to.contain(directive);
    }
    expect(csp).not.to.contain('unsafe-inline');
    expect(res.headers.get('x-content-type-options')).to.equal('nosniff');
    expect(res.headers.get('referrer-policy')).to.equal('same-origin');
    expect(res.headers.get('cache-control')).to.equal('no-store');
    expect(res.headers.get('x-powered-by')).to.equal(null);
  });

  it('refuses TRACE', async () => {
    // fetch() will not send TRACE, so use node:http directly.
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(`${app.url}/`, { method: 'TRACE' }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end();
    });
    expect(status).to.equal(405);
  });

  it('answers 400, not 500, for request targets that are not paths (OPTIONS *, absolute form)', async () => {
    for (const [method, path] of [['OPTIONS', '*'], ['GET', '*'], ['GET', 'http://evil.example/']] as const) {
      const status = await new Promise<number>((resolve, reject) => {
        const req = request(app.url, { method, path }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on('error', reject);
        req.end();
      });
      expect(status, `${method} ${path}`).to.equal(400);
    }
  });

  it('answers unknown paths with a 404 page that leaks nothing', async () => {
    const res = await new Browser(app.url).get('/nope/../../etc/passwd');
    expect(res.status).to.equal(404);
    expect(res.text).not.to.match(/at .*\.ts|node_modules|stack/i);
  });

  it('serves the stylesheet without touching the session store', async () => {
    const before = app.ctx.db.prepare('SELECT count(*) FROM sessions').pluck().get();
    const b = new Browser(app.url);
    const css = await b.get('/style.css');
    expect(css.status).to.equal(200);
    expect(css.headers.get('content-type')).to.match(/text\/css/);
    expect(b.cookies.size).to.equal(0);
    expect(app.ctx.db.prepare('SELECT count(*) FROM sessions').pluck().get()).to.equal(before);
  });
});
