// The second step of sign-in over real HTTP: a correct password for an account with TOTP
// is not a sign-in; the right code is (new session ID, level 2); wrong codes, throttling,
// single-use recovery codes, the pending state expiring, and step-up of a level-1 session.

import { expect } from 'chai';
import { Browser } from '../../support/browser.js';
import { addUser, GOOD_PASSWORD } from '../../support/harness.js';
import { codeAt, enrollTotp, postCode, storedAuth, userWithTotp, world, wrongCode, type World } from './second-factor-helpers.js';
import { recentAudit } from '../../support/audit.js';

describe('sign-in: the second step', () => {
  let w: World;
  let secret: string;
  beforeEach(async () => {
    w = await world();
    ({ secret } = await userWithTotp(w, 'alice'));
  });
  afterEach(() => w.app.close());

  it('a correct password leads to the second step, and nothing is signed in meanwhile', async () => {
    const b = new Browser(w.app.url);
    const res = await b.login('alice', GOOD_PASSWORD);
    expect(res.status).to.equal(303);
    expect(res.location).to.equal('/login/second-factor');
    const form = await b.get('/login/second-factor');
    expect(form.status).to.equal(200);
    expect(form.text).to.match(/<input[^>]+name="code"[^>]+autocomplete="one-time-code"/);
    expect(form.text).not.to.match(/<script/i);

    // Pending: pages send to the login page, the API says 401, forward auth too.
    const home = await b.get('/');
    expect(home.status).to.equal(303);
    expect(home.location).to.equal('/login');
    expect((await b.get('/account')).location).to.equal('/login');
    expect((await b.get('/api/v1/me')).status).to.equal(401);
    expect(recentAudit(w.app.ctx, 10).map((e) => e.event)).not.to.include('login-succeeded');
  });

  it('the right code signs in at level 2, with a new session ID at each step', async () => {
    const b = new Browser(w.app.url);
    const token = await b.csrf('/login');
    const preLogin = b.cookies.get('gatehouse');
    await b.post('/login', { _csrf: token, username: 'alice', password: GOOD_PASSWORD });
    const pending = b.cookies.get('gatehouse');
    expect(pending).to.be.a('string').and.not.equal(preLogin);
    const res = await postCode(b, codeAt(secret, w.clock.now()));
    expect(res.status).to.equal(303);
    expect(res.location).to.equal('/');
    const signedIn = b.cookies.get('gatehouse');
    expect(signedIn).to.be.a('string').and.not.equal(pending).and.not.equal(preLogin);

    const home = await b.get('/');
    expect(home.status).to.equal(200);
    expect(home.text).to.contain('alice');
    expect(storedAuth(w.app, b)).to.include({ level: 2, secondFactorAt: w.clock.now() }).and.deep.include({ methods: ['password', 'totp'] });
    const events = recentAudit(w.app.ctx, 10).map((e) => e.event);
    expect(events).to.include.members(['login-succeeded', 'totp-accepted']);

    // Neither earlier cookie is worth anything.
    for (const old of [preLogin, pending]) {
      const attacker = new Browser(w.app.url);
      attacker.cookies.set('gatehouse', old as string);
      expect((await attacker.get('/')).location).to.equal('/login');
      expect((await attacker.get('/login/second-factor')).location).to.match(/^\/login\?notice=second_factor_expired/);
    }
  });

  it('a password-only account signs in at level 1 without a second step', async () => {
    await addUser(w.app.ctx, 'bob');
    const b = new Browser(w.app.url);
    const res = await b.login('bob', GOOD_PASSWORD);
    expect(res.location).to.equal('/');
    expect(storedAuth(w.app, b)).to.include({ level: 1 }).and.deep.include({ methods: ['password'] });
  });

  it('honours rd and "keep me signed in" through the second step', async () => {
    const b = new Browser(w.app.url);
    const token = await b.csrf('/login?rd=%2Faccount');
    await b.post('/login', { _csrf: token, username: 'alice', password: GOOD_PASSWORD, rd: '/account', remember: 'on' });
    const res = await postCode(b, codeAt(secret, w.clock.now()));
    expect(res.status).to.equal(303);
    expect(storedAuth(w.app, b)).to.include({ remember: true, level: 2 });
  });

  it('a wrong code: 401 with the one generic message, still not signed in', async () => {
    const b = new Browser(w.app.url);
    await b.login('alice', GOOD_PASSWORD);
    const res = await postCode(b, wrongCode(secret, w.clock.now()));
    expect(res.status).to.equal(401);
    expect(res.text).to.contain('That code is not valid.');
    expect((await b.get('/')).location).to.equal('/login');
    // The right code still works afterwards.
    expect((await postCode(b, codeAt(secret, w.clock.now()))).location).to.equal('/');
  });

  it('throttles wrong codes per user: 429 with Retry-After, even for the right code', async () => {
    const b = new Browser(w.app.url);
    await b.login('alice', GOOD_PASSWORD);
    let res = await postCode(b, wrongCode(secret, w.clock.now()));
    for (let i = 0; i < 20 && res.status === 401; i++) res = await postCode(b, wrongCode(secret, w.clock.now()));
    expect(res.status).to.equal(429);
    expect(Number(res.headers.get('retry-after'))).to.be.greaterThan(0);
    expect(res.text).to.match(/Too many wrong codes/);
    const right = await postCode(b, codeAt(secret, w.clock.now()));
    expect(right.status).to.equal(429);
    expect((await b.get('/')).location).to.equal('/login');
  });

  it('a replayed TOTP code is refused at the next sign-in', async () => {
    const code = codeAt(secret, w.clock.now());
    const first = new Browser(w.app.url);
    await first.login('alice', GOOD_PASSWORD);
    expect((await postCode(first, code)).location).to.equal('/');
    const second = new Browser(w.app.url);
    await second.login('alice', GOOD_PASSWORD);
    expect((await postCode(second, code)).status).to.equal(401);
  });

  it('a recovery code works once, and the user is told how many are left', async () => {
    const alice = w.app.ctx.users.findByUsername('alice');
    const codes = w.app.ctx.twoFactor.recoveryCodes.generate(alice!, 'test');
    const b = new Browser(w.app.url);
    await b.login('alice', GOOD_PASSWORD);
    const res = await postCode(b, codes[0] as string);
    expect(res.status).to.equal(303);
    expect(storedAuth(w.app, b)).to.include({ level: 2 }).and.deep.include({ methods: ['password', 'recovery-code'] });
    const home = await b.get('/');
    expect(home.text).to.contain(`${codes.length - 1} unused recovery codes left`);
    expect(recentAudit(w.app.ctx, 10).map((e) => e.event)).to.include('recovery-code-used');

    await b.logout();
    await b.login('alice', GOOD_PASSWORD);
    const again = await postCode(b, codes[0] as string);
    expect(again.status).to.equal(401);
    expect((await postCode(b, codes[1] as string)).status).to.equal(303);
  });

  it('the pending state expires after 5 minutes: a stale form goes back to /login', async () => {
    const b = new Browser(w.app.url);
    await b.login('alice', GOOD_PASSWORD);
    const page = await b.get('/login/second-factor');
    const token = /name="_csrf" value="([^"]+)"/.exec(page.text)?.[1] as string;
    w.clock.advance(5 * 60_000 + 1);
    const res = await b.post('/login/second-factor', { _csrf: token, code: codeAt(secret, w.clock.now()) });
    expect(res.status).to.equal(303);
    expect(res.location).to.match(/^\/login\?notice=second_factor_expired/);
    expect((await b.get('/')).location).to.equal('/login');
    expect((await b.get(res.location as string)).text).to.contain('took too long');
  });

  it('a signed-in level-1 session of a user who now has a factor steps up without the password', async () => {
    await addUser(w.app.ctx, 'carol', { groups: ['admins'] });
    const b = new Browser(w.app.url);
    expect((await b.login('carol', GOOD_PASSWORD)).location).to.equal('/');
    expect((await b.get('/admin')).status, 'no factor yet: admin pages at level 1').to.equal(200);
    const carol = w.app.ctx.users.findByUsername('carol');
    const carolSecret = await enrollTotp(w, carol!);

    const admin = await b.get('/admin');
    expect(admin.status).to.equal(303);
    expect(admin.location).to.equal('/login/second-factor?rd=%2Fadmin');
    const before = b.cookies.get('gatehouse');
    const form = await b.get(admin.location as string);
    expect(form.text).to.contain('your password is not needed again');
    const res = await postCode(b, codeAt(carolSecret, w.clock.now()), {}, admin.location as string);
    expect(res.status).to.equal(303);
    expect(res.location).to.equal('/admin');
    expect(b.cookies.get('gatehouse')).not.to.equal(before);
    expect((await b.get('/admin')).status).to.equal(200);
    expect(storedAuth(w.app, b)).to.include({ level: 2 });
  });

  it('a wrong code at step-up leaves the session at level 1', async () => {
    await addUser(w.app.ctx, 'dave', { groups: ['admins'] });
    const d = new Browser(w.app.url);
    await d.login('dave', GOOD_PASSWORD);
    const daveSecret = await enrollTotp(w, w.app.ctx.users.findByUsername('dave')!);
    await d.get('/login/second-factor?rd=%2Fadmin');
    expect((await postCode(d, wrongCode(daveSecret, w.clock.now()))).status).to.equal(401);
    expect((await d.get('/admin')).status).to.equal(303);
    expect(storedAuth(w.app, d)).to.include({ level: 1 });
  });
});
