// Forward auth with personal API tokens: `Authorization: Bearer gth_…` on the proxied
// request identifies the user (read or write scope; never admin) with the same Remote-* headers; revoked,
// expired or malformed tokens are no credential; other Authorization schemes belong to the
// upstream app and are ignored; users who must change their password are refused (tokens
// and cookies alike).

import { expect } from 'chai';
import { Browser } from '../../support/browser.js';
import { FakeClock } from '../../support/clock.js';
import { forward, forwardAuthConfig, HTTPS, PORTAL, verify } from '../../support/forward-auth.js';
import { addUser, GOOD_PASSWORD, startApp, type TestApp } from '../../support/harness.js';
import type { TokenScope } from '../../../src/tokens/api-tokens.js';

const APP = 'https://app.home.example/';
const DAY = 86_400_000;

describe('forward auth with API tokens', () => {
  let app: TestApp;
  let clock: FakeClock;
  let anonymous: Browser;

  function mint(username: string, scope: TokenScope = 'read', days = 30): string {
    const user = app.ctx.users.findByUsername(username);
    return app.ctx.tokens.create({ userId: user!.id, username, name: 'proxy', scope, lifetimeMs: days * DAY, by: 'test' }).token;
  }
  const bearer = (token: string) => ({ headers: { authorization: `Bearer ${token}` } });

  beforeEach(async () => {
    clock = new FakeClock();
    // Long sessions so that password.max_age (1 day) can pass while a cookie stays live.
    app = await startApp({ clock, config: forwardAuthConfig({ password: { max_age: '1d' }, session: { cookie_domain: 'home.example', inactivity: '30d', expiration: '30d' } }) });
    await addUser(app.ctx, 'alice', { groups: ['family'] });
    app.ctx.accounts.update('alice', { displayName: 'Alice Ö', email: 'alice@home.example' }, 'test');
    await addUser(app.ctx, 'root', { groups: ['admins'] });
    anonymous = new Browser(app.url, HTTPS);
  });
  afterEach(() => app.close());

  it('a token (read scope is enough) gives 200 with the Remote-* headers on both endpoints', async () => {
    const token = mint('alice');
    for (const res of [await verify(anonymous, APP, bearer(token)), await forward(anonymous, APP, bearer(token))]) {
      expect(res.status).to.equal(200);
      expect(res.headers.get('remote-user')).to.equal('alice');
      expect(res.headers.get('remote-groups')).to.equal('family');
      expect(res.headers.get('remote-email')).to.equal('alice@home.example');
    }
    expect(anonymous.cookies.size, 'no cookie is set').to.equal(0);
    expect((await verify(anonymous, APP, { headers: { authorization: `bearer  ${token}` } })).headers.get('remote-user')).to.equal('alice');
  });

  it('an admin-scoped token opens no home service (the proxy would hand it to the upstream)', async () => {
    const token = mint('root', 'admin');
    expect((await verify(anonymous, 'https://admin.home.example/', bearer(token))).status).to.equal(401);
    expect((await forward(anonymous, APP, bearer(token))).status).to.be.oneOf([302, 401]);
    expect((await verify(anonymous, 'https://admin.home.example/', bearer(mint('root', 'write')))).status).to.equal(200);
  });

  it('access rules apply to the token’s owner: admin host for admins only', async () => {
    expect((await verify(anonymous, 'https://admin.home.example/', bearer(mint('alice', 'write')))).status).to.equal(403);
    expect((await verify(anonymous, 'https://admin.home.example/', bearer(mint('root')))).status).to.equal(200);
  });

  it('revoked and expired tokens get 401 (and the login redirect)', async () => {
    const token = mint('alice', 'read', 1);
    expect((await verify(anonymous, APP, bearer(token))).status).to.equal(200);
    const id = app.ctx.tokens.list(app.ctx.users.findByUsername('alice')!.id)[0]!.id;
    app.ctx.tokens.revoke(app.ctx.users.findByUsername('alice')!.id, id, 'test');
    const revoked = await verify(anonymous, APP, bearer(token));
    expect(revoked.status).to.equal(401);
    expect(revoked.headers.get('remote-user')).to.equal(null);
    expect(revoked.location).to.equal(`${PORTAL}/login?rd=${encodeURIComponent(APP)}`);

    const short = mint('alice', 'read', 1);
    expect((await verify(anonymous, APP, bearer(short))).status).to.equal(200);
    clock.advance(DAY);
    expect((await verify(anonymous, APP, bearer(short))).status).to.equal(401);
    const browserRes = await forward(anonymous, APP, { headers: { authorization: `Bearer ${short}`, accept: 'text/html' } });
    expect(browserRes.status).to.equal(302);
  });

  it('a bad gth_ token is no credential, even with a valid session cookie', async () => {
    const b = new Browser(app.url, HTTPS);
    expect((await b.login('alice', GOOD_PASSWORD)).status).to.equal(303);
    expect((await verify(b, APP)).status).to.equal(200);
    for (const bad of ['gth_', 'gth_short', `gth_${'A'.repeat(43)}`, `${mint('alice')}x`]) {
      const res = await verify(b, APP, bearer(bad));
      expect(res.status, bad).to.equal(401);
      expect(res.headers.get('remote-user')).to.equal(null);
    }
  });

  it('other Authorization values are the upstream’s: ignored, the cookie decides', async () => {
    const b = new Browser(app.url, HTTPS);
    expect((await b.login('alice', GOOD_PASSWORD)).status).to.equal(303);
    for (const authorization of ['Basic cm9vdDpodW50ZXIy', 'Bearer some-upstream-jwt.abc.def', 'Digest username="root"']) {
      const withCookie = await verify(b, APP, { headers: { authorization } });
      expect(withCookie.status, authorization).to.equal(200);
      expect(withCookie.headers.get('remote-user')).to.equal('alice');
      expect((await verify(anonymous, APP, { headers: { authorization } })).status, authorization).to.equal(401);
    }
  });

  it('records the token’s last use and client address', async () => {
    const token = mint('alice');
    await verify(anonymous, APP, { headers: { authorization: `Bearer ${token}`, 'x-forwarded-for': '192.168.1.44' } });
    const info = app.ctx.tokens.list(app.ctx.users.findByUsername('alice')!.id)[0]!;
    expect(info.lastUsedAt).to.equal(clock.now());
    expect(info.lastUsedIp).to.equal('192.168.1.44');
  });

  it('a disabled user’s token is refused, and stays refused after the account is enabled again (revoked)', async () => {
    const token = mint('alice');
    app.ctx.accounts.disable('alice', 'test');
    expect((await verify(anonymous, APP, bearer(token))).status).to.equal(401);
    app.ctx.accounts.enable('alice', 'test');
    expect((await verify(anonymous, APP, bearer(token))).status).to.equal(401);
    expect((await verify(anonymous, APP, bearer(mint('alice')))).status).to.equal(200);
  });

  it('a user who must change their password is refused, by token and by cookie, until they do', async () => {
    const token = mint('alice');
    const b = new Browser(app.url, HTTPS);
    expect((await b.login('alice', GOOD_PASSWORD)).status).to.equal(303);
    expect((await verify(b, APP)).status).to.equal(200);
    // password.max_age is one day: the password is now too old.
    clock.advance(DAY + 60_000);
    expect((await verify(b, APP)).status).to.equal(401);
    expect((await verify(anonymous, APP, bearer(token))).status).to.equal(401);

    // A password change revokes the user's tokens: one made by an intruder dies with it.
    await app.ctx.accounts.setPassword('alice', 'violet submarine orbits quietly', 'test');
    expect((await verify(anonymous, APP, bearer(token))).status, 'tokens die with a password change').to.equal(401);
    const fresh = mint('alice');
    expect((await verify(anonymous, APP, bearer(fresh))).status).to.equal(200);
    // An administrator's reset: revoked as well, and the user must choose their own first.
    await app.ctx.accounts.setPassword('alice', 'amber lanterns drift over harbours', 'test', { reset: true });
    expect((await verify(anonymous, APP, bearer(fresh))).status).to.equal(401);
  });
});
