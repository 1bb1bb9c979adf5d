// What a protected service receives must not unlock gatehouse itself (issue 11 item 3). The
// cookies a browser sends to every host of the cookie domain reach every upstream; an
// upstream (or whoever took it over) replaying them to gatehouse gets forward auth and
// nothing else: no pages, no API, no token, no new admin. Both cookies belong to one session
// row and die together.

import { expect } from 'chai';
import { Browser } from '../../support/browser.js';
import { addUser, GOOD_PASSWORD, startApp, type TestApp } from '../../support/harness.js';
import { forwardAuthConfig, HTTPS, verify } from '../../support/forward-auth.js';

describe('an upstream replaying what it received to gatehouse', () => {
  let app: TestApp;
  let admin: Browser;
  /** The cookies of the admin's sign-in that carry Domain=home.example: what every upstream gets. */
  let shared: Map<string, string>;

  beforeEach(async () => {
    app = await startApp({ config: { ...forwardAuthConfig(), rate_limit: { max: 100_000 } } });
    await addUser(app.ctx, 'zoe', { groups: ['admins'] });
    admin = new Browser(app.url, HTTPS);
    const res = await admin.login('zoe', GOOD_PASSWORD);
    expect(res.status).to.equal(303);
    shared = new Map();
    for (const line of res.setCookies) {
      if (!/;\s*Domain=home\.example/i.test(line)) continue;
      const [pair] = line.split(';') as [string];
      const eq = pair.indexOf('=');
      shared.set(pair.slice(0, eq), pair.slice(eq + 1));
    }
    expect(shared.size, 'a cookie shared with the cookie domain, for forward auth').to.be.greaterThan(0);
  });
  afterEach(() => app.close());

  /** A client holding only the shared cookies, from a trusted address (loopback, like an upstream on the gateway). */
  function upstream(): Browser {
    const b = new Browser(app.url, HTTPS);
    for (const [name, value] of shared) b.cookies.set(name, value);
    return b;
  }

  it('forward auth accepts the shared cookie', async () => {
    const res = await verify(upstream(), 'https://app.home.example/');
    expect(res.status).to.equal(200);
    expect(res.headers.get('remote-user')).to.equal('zoe');
  });

  it('the shared cookie opens no page, no API and mints nothing', async () => {
    const up = upstream();
    expect((await up.get('/account')).status, '/account').to.equal(303);
    expect((await up.get('/admin')).status, '/admin').to.not.equal(200);
    expect((await up.get('/api/v1/me')).status, 'GET /api/v1/me').to.equal(401);
    expect((await up.get('/api/v1/users')).status, 'GET /api/v1/users').to.equal(401);
    expect((await up.get('/api/v1/csrf')).status, 'GET /api/v1/csrf').to.not.equal(200);
    // With a CSRF token of its own anonymous session, still nothing: it is not signed in.
    const csrf = await up.get('/api/v1/csrf');
    const token = csrf.status === 200 ? (JSON.parse(csrf.text) as { csrf_token: string }).csrf_token : 'none';
    const mint = await up.request('POST', '/api/v1/me/tokens', {
      headers: { 'content-type': 'application/json', 'x-csrf-token': token },
      body: JSON.stringify({ name: 'exfil', scope: 'admin', expires_in_days: 30 }),
    });
    expect(mint.status, 'minting a token').to.equal(401);
    const create = await up.request('POST', '/api/v1/users', {
      headers: { 'content-type': 'application/json', 'x-csrf-token': token },
      body: JSON.stringify({ username: 'mallory', password: 'a long enough passphrase here', groups: ['admins'] }),
    });
    expect(create.status, 'creating an admin').to.equal(401);
    expect(app.ctx.users.findByUsername('mallory')).to.equal(null);
    expect(app.ctx.tokens.list(app.ctx.users.findByUsername('zoe')!.id)).to.have.length(0);
  });

  it('the portal cookie is host-only: it never goes to the services of the cookie domain', async () => {
    const portalCookies = [...admin.cookies.keys()].filter((name) => !shared.has(name));
    expect(portalCookies).to.include('__Host-gatehouse');
    expect([...shared.keys()]).to.deep.equal(['__Secure-gatehouse_forward']);
  });

  it('both cookies die together: signing out at the portal ends forward auth too', async () => {
    const up = upstream();
    expect((await verify(up, 'https://app.home.example/')).status).to.equal(200);
    const token = await admin.csrf('/account');
    const out = await admin.post('/logout', { _csrf: token });
    expect(out.status).to.equal(303);
    expect(out.setCookies.some((c) => c.startsWith('__Secure-gatehouse_forward=;') && /Domain=home\.example/i.test(c)), 'the shared cookie is cleared').to.equal(true);
    expect((await verify(up, 'https://app.home.example/')).status).to.equal(401);
  });

  it('a renewed session ID (re-authentication) gets a new forward-auth cookie; the old one is dead', async () => {
    const before = admin.cookies.get('__Secure-gatehouse_forward');
    const token = await admin.csrf('/reauth');
    const res = await admin.post('/reauth', { _csrf: token, password: GOOD_PASSWORD, rd: '/account' });
    expect(res.status).to.equal(303);
    const after = admin.cookies.get('__Secure-gatehouse_forward');
    expect(after).to.be.a('string').and.not.equal(before);
    expect((await verify(admin, 'https://app.home.example/')).status).to.equal(200);
    expect((await verify(upstream(), 'https://app.home.example/')).status, 'the old forward cookie').to.equal(401);
  });
});
