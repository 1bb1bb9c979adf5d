// two_factor access rules at the forward-auth endpoints: a password-only session cannot
// pass (the second step for a user with a factor, 403 for one without), a level-2 session
// can; a pending sign-in is nobody; API tokens are level 1; and a user the two_factor
// config obliges to use a factor counts as signed in only at level 2.

import { expect } from 'chai';
import { Browser, type Reply } from '../../support/browser.js';
import { forward, forwardAuthConfig, HTTPS, PORTAL, verify } from '../../support/forward-auth.js';
import { addUser, GOOD_PASSWORD } from '../../support/harness.js';
import { codeAt, enrollTotp, postCode, signInWithTotp, userWithTotp, world, type World } from '../auth/second-factor-helpers.js';

const VAULT = 'https://vault.home.example/';
const APP = 'https://app.home.example/';
const HTML = { accept: 'text/html' };
const DAY = 86_400_000;

function expectSignInRedirect(v: Reply, f: Reply, url: string): void {
  const location = `${PORTAL}/login?rd=${encodeURIComponent(url)}`;
  expect(v.status).to.equal(401);
  expect(v.headers.get('location')).to.equal(location);
  expect(f.status).to.equal(302);
  expect(f.location).to.equal(location);
  for (const res of [v, f]) expect(res.headers.get('remote-user')).to.equal(null);
}

describe('forward auth: two_factor rules', () => {
  let w: World;
  beforeEach(async () => {
    w = await world(forwardAuthConfig());
  });
  afterEach(() => w.app.close());

  it('a session that took the second step passes a two_factor rule on both endpoints', async () => {
    const { secret } = await userWithTotp(w, 'alice');
    const b = new Browser(w.app.url, HTTPS);
    expect((await signInWithTotp(w, b, 'alice', secret)).status).to.equal(303);
    for (const res of [await verify(b, VAULT), await forward(b, VAULT, { headers: HTML })]) {
      expect(res.status).to.equal(200);
      expect(res.headers.get('remote-user')).to.equal('alice');
    }
  });

  it('a password-only session cannot pass; with a factor it steps up through the portal and then can', async () => {
    const bob = await addUser(w.app.ctx, 'bob');
    const b = new Browser(w.app.url, HTTPS);
    expect((await b.login('bob', GOOD_PASSWORD)).location).to.equal('/');
    expect((await verify(b, APP)).status, 'one_factor is fine').to.equal(200);
    // No second factor at all: no step could help, so 403 rather than a loop to the portal.
    for (const res of [await verify(b, VAULT), await forward(b, VAULT, { headers: HTML })]) {
      expect(res.status).to.equal(403);
      expect(res.headers.get('remote-user')).to.equal(null);
    }

    // Bob enrolls (his session stays level 1): now the rule sends him to the portal...
    const secret = await enrollTotp(w, bob);
    expectSignInRedirect(await verify(b, VAULT), await forward(b, VAULT, { headers: HTML }), VAULT);
    // ...whose login page, for a signed-in level-1 user, is the second step, not the password.
    const login = await b.get(`/login?rd=${encodeURIComponent(VAULT)}`);
    expect(login.status).to.equal(303);
    expect(login.location).to.equal(`/login/second-factor?rd=${encodeURIComponent(VAULT)}`);
    const before = b.cookies.get('__Host-gatehouse');
    const res = await postCode(b, codeAt(secret, w.clock.now()), {}, login.location as string);
    expect(res.status).to.equal(303);
    expect(res.location).to.equal(VAULT);
    expect(b.cookies.get('__Host-gatehouse')).to.be.a('string').and.not.equal(before);
    for (const ok of [await verify(b, VAULT), await forward(b, VAULT, { headers: HTML })]) {
      expect(ok.status).to.equal(200);
      expect(ok.headers.get('remote-user')).to.equal('bob');
    }
  });

  it('a pending sign-in (password right, code not yet given) is nobody to forward auth', async () => {
    await userWithTotp(w, 'alice');
    const b = new Browser(w.app.url, HTTPS);
    expect((await b.login('alice', GOOD_PASSWORD)).location).to.equal('/login/second-factor');
    expectSignInRedirect(await verify(b, APP), await forward(b, APP, { headers: HTML }), APP);
    expectSignInRedirect(await verify(b, VAULT), await forward(b, VAULT, { headers: HTML }), VAULT);
  });

  it('an API token is level 1: it opens one_factor hosts, never a two_factor one (403)', async () => {
    const { user } = await userWithTotp(w, 'alice');
    const token = w.app.ctx.tokens.create({ userId: user.id, username: 'alice', name: 'proxy', scope: 'read', lifetimeMs: DAY, by: 'test' }).token;
    const anonymous = new Browser(w.app.url, HTTPS);
    const bearer = { headers: { authorization: `Bearer ${token}` } };
    expect((await verify(anonymous, APP, bearer)).status).to.equal(200);
    for (const res of [await verify(anonymous, VAULT, bearer), await forward(anonymous, VAULT, { headers: { ...HTML, ...bearer.headers } })]) {
      expect(res.status).to.equal(403);
      expect(res.headers.get('remote-user')).to.equal(null);
    }
  });

  it('after sign-out the level-2 session is gone with everything else', async () => {
    const { secret } = await userWithTotp(w, 'alice');
    const b = new Browser(w.app.url, HTTPS);
    await signInWithTotp(w, b, 'alice', secret);
    expect((await verify(b, VAULT)).status).to.equal(200);
    await b.logout();
    expect((await verify(b, VAULT)).status).to.equal(401);
  });
});

describe('forward auth: the two_factor config policy', () => {
  let w: World;
  beforeEach(async () => {
    w = await world(forwardAuthConfig({ two_factor: { required_for_groups: ['admins'] } }));
  });
  afterEach(() => w.app.close());

  it('an admin who must enroll counts as signed out until they have (sent to the portal)', async () => {
    await addUser(w.app.ctx, 'root', { groups: ['admins'] });
    const b = new Browser(w.app.url, HTTPS);
    expect((await b.login('root', GOOD_PASSWORD)).location).to.equal('/account/two-factor');
    expectSignInRedirect(await verify(b, APP), await forward(b, APP, { headers: HTML }), APP);
    // The portal's login page sends a signed-in user on to enrollment.
    expect((await b.get(`/login?rd=${encodeURIComponent(APP)}`)).location).to.equal('/account/two-factor');
  });

  it('an admin at level 2 passes one_factor and two_factor rules', async () => {
    const { secret } = await userWithTotp(w, 'root', ['admins']);
    const b = new Browser(w.app.url, HTTPS);
    await signInWithTotp(w, b, 'root', secret);
    expect((await verify(b, APP)).status).to.equal(200);
    expect((await verify(b, VAULT)).status).to.equal(200);
    expect((await verify(b, 'https://admin.home.example/')).status).to.equal(200);
  });
});
