// A session that predates the second factor must not take it over (issue 24 item 1, ASVS
// 6.4, 7.4.3): enrolling the first factor (app or passkey) ends the user's other sessions;
// a password-only session that is still alive while the account has a factor (signed in
// before this rule existed) can change nothing about the factors, recovery codes,
// remembered devices, tokens or password until it passes the second step; and the pages
// offer to sign out the other sessions after a later change of factors.

import { expect } from 'chai';
import { Browser, type Reply } from '../../support/browser.js';
import { FakeClock } from '../../support/clock.js';
import { addUser, GOOD_PASSWORD, type TestApp } from '../../support/harness.js';
import { SoftAuthenticator } from '../../support/webauthn.js';
import { codeAt, STEP } from '../../unit/twofactor/support.js';
import type { User } from '../../../src/users/repository.js';
import { endReason, handleFor, IPHONE, isSignedIn, signedIn, startAccountApp } from './support.js';

const LAPTOP = 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0 laptop';
const NEW_PASSWORD = 'violet tugboat under the marmalade sky';

describe('second factors: a session that predates the factor cannot take it over', () => {
  let app: TestApp;
  let clock: FakeClock;
  let origin: string;
  let bob: User;
  beforeEach(async () => {
    clock = new FakeClock();
    app = await startAccountApp({}, { clock });
    origin = new URL(app.url).origin;
    bob = await addUser(app.ctx, 'bob');
  });
  afterEach(() => app.close());

  /** A form post as the browser sends it from `page` (its CSRF token and Referer). */
  async function post(b: Browser, action: string, fields: Record<string, string> = {}, page = '/account/two-factor'): Promise<Reply> {
    const token = await b.csrf(page);
    return b.post(action, { _csrf: token, ...fields }, { referer: new URL(page, origin).href });
  }

  /** A JSON post as public/passkeys.js sends it (the page's token in X-CSRF-Token). */
  async function postJson(b: Browser, path: string, body: unknown, page = '/account/two-factor'): Promise<Reply> {
    const token = await b.csrf(page);
    return b.request('POST', path, { body: JSON.stringify(body), headers: { 'content-type': 'application/json', 'x-csrf-token': token, origin, referer: new URL(page, origin).href } });
  }

  /** Sets up an authenticator app on /account/two-factor; returns the secret. */
  async function enrollApp(b: Browser): Promise<string> {
    const begun = await post(b, '/account/two-factor/totp');
    expect(begun.status, begun.text).to.equal(200);
    const secret = (/<code class="secret">([A-Z2-7 ]+)<\/code>/.exec(begun.text)?.[1] ?? '').replace(/\s/g, '');
    const done = await post(b, '/account/two-factor/totp/confirm', { code: codeAt(secret, clock.now()) });
    expect(done.status, done.text).to.equal(201);
    clock.advance(3 * STEP);
    return secret;
  }

  async function registerPasskey(b: Browser, auth = new SoftAuthenticator()): Promise<Reply> {
    const opts = await postJson(b, '/account/two-factor/passkeys/register/options', {});
    if (opts.status !== 200) return opts;
    return postJson(b, '/account/two-factor/passkeys/register', { name: 'key', response: auth.create(JSON.parse(opts.text) as never, origin) });
  }

  /** The factor appears beside a live password-only session, as for sessions signed in before this rule. */
  async function enrollBehindItsBack(): Promise<string> {
    const { secret } = await app.ctx.twoFactor.totp.begin(bob);
    expect(app.ctx.twoFactor.totp.confirm(bob, codeAt(secret, clock.now())).ok).to.equal(true);
    clock.advance(3 * STEP);
    return secret;
  }

  it('setting up an app on one device signs out the password-only sessions elsewhere; this one stays', async () => {
    const laptop = await signedIn(app, 'bob', GOOD_PASSWORD, LAPTOP);
    const laptopHandle = handleFor(app, bob.id, LAPTOP);
    const phone = await signedIn(app, 'bob', GOOD_PASSWORD, IPHONE);
    await enrollApp(phone);
    expect((await phone.get('/account/two-factor')).text).to.contain('Your 1 other session was signed out');
    expect(await isSignedIn(laptop)).to.equal(false);
    expect(endReason(app, laptopHandle)).to.equal('second-factor-enrolled');
    expect(await isSignedIn(phone)).to.equal(true);
    // What the issue did from the old session: new recovery codes (then a step-up with one).
    const codes = await post(laptop, '/account/two-factor/recovery-codes', {}, '/login');
    expect(codes.status).to.equal(401);
    expect(app.ctx.twoFactor.status(bob.id).recoveryCodesRemaining).to.equal(10);
  });

  it('registering the first passkey signs out the password-only sessions elsewhere', async () => {
    const laptop = await signedIn(app, 'bob', GOOD_PASSWORD, LAPTOP);
    const phone = await signedIn(app, 'bob', GOOD_PASSWORD, IPHONE);
    expect((await registerPasskey(phone)).status).to.equal(201);
    expect(await isSignedIn(laptop)).to.equal(false);
    expect(await isSignedIn(phone)).to.equal(true);
    const remove = await post(laptop, '/account/two-factor/remove', {}, '/login');
    expect(remove.status).to.equal(401);
    expect(app.ctx.twoFactor.isEnabled(bob.id)).to.equal(true);
  });

  it('a password-only session beside a factor is sent to the second step for every change, and changes nothing', async () => {
    const old = await signedIn(app, 'bob', GOOD_PASSWORD, LAPTOP);
    await enrollBehindItsBack();
    // Things the session might go after: a passkey, a remembered device, the password.
    const rp = { rpID: new URL(app.url).hostname, origin };
    const regOptions = await app.ctx.twoFactor.passkeys.registrationOptions(bob, rp);
    const passkey = (await app.ctx.twoFactor.passkeys.register(bob, new SoftAuthenticator().create(regOptions as never, origin) as never, regOptions.challenge, rp, 'key', null))!;
    expect(passkey).to.not.equal(null);
    const device = app.ctx.twoFactor.devices.create(bob.id, 86_400_000);
    const before = JSON.stringify([app.ctx.twoFactor.status(bob.id), app.ctx.twoFactor.devices.list(bob.id)]);

    const forms: Array<[string, Record<string, string>, string]> = [
      ['/account/two-factor/recovery-codes', {}, '/account/two-factor'],
      ['/account/two-factor/remove', {}, '/account/two-factor'],
      ['/account/two-factor/totp', {}, '/account/two-factor'],
      ['/account/two-factor/totp/confirm', { code: '123456' }, '/account/two-factor'],
      [`/account/two-factor/passkeys/${passkey.id}/delete`, {}, '/account/two-factor'],
      [`/account/devices/${device.id}/revoke`, {}, '/account'],
      ['/account/tokens', { name: 'foothold', scope: 'write', expires_in_days: '366' }, '/account'],
      ['/account/password', { current_password: GOOD_PASSWORD, new_password: NEW_PASSWORD, new_password_confirm: NEW_PASSWORD }, '/account/password'],
    ];
    for (const [action, fields, page] of forms) {
      const res = await post(old, action, fields, page);
      expect(res.status, action).to.equal(303);
      expect(res.location, action).to.equal(`/login/second-factor?rd=${encodeURIComponent(page)}`);
    }
    const options = await postJson(old, '/account/two-factor/passkeys/register/options', {});
    expect(options.status).to.equal(303);
    expect(options.location).to.match(/^\/login\/second-factor\?rd=/);
    const register = await postJson(old, '/account/two-factor/passkeys/register', { response: {} });
    expect(register.location).to.match(/^\/login\/second-factor\?rd=/);

    // The JSON API with the same cookie: 403 second-factor-required.
    const csrf = JSON.parse((await old.get('/api/v1/csrf')).text).csrf_token as string;
    const headers = { 'content-type': 'application/json', 'x-csrf-token': csrf };
    const calls: Array<[string, string, unknown]> = [
      ['POST', '/api/v1/me/tokens', { name: 'foothold', scope: 'write', expires_in_days: 366 }],
      ['PUT', '/api/v1/me/password', { current_password: GOOD_PASSWORD, new_password: NEW_PASSWORD }],
    ];
    for (const [method, path, body] of calls) {
      const res = await old.request(method, path, { body: JSON.stringify(body), headers });
      expect(res.status, path).to.equal(403);
      expect(JSON.parse(res.text).error.code, path).to.equal('second-factor-required');
    }

    expect(JSON.stringify([app.ctx.twoFactor.status(bob.id), app.ctx.twoFactor.devices.list(bob.id)])).to.equal(before);
    expect(app.ctx.tokens.list(bob.id)).to.have.length(0);
    expect(await app.ctx.accounts.checkPassword(bob.id, GOOD_PASSWORD)).to.equal(true);
  });

  it('after the second step the same session may make the change (and may remember the device: it just passed the factor)', async () => {
    const old = await signedIn(app, 'bob', GOOD_PASSWORD, LAPTOP);
    const secret = await enrollBehindItsBack();
    const refused = await post(old, '/account/two-factor/recovery-codes');
    expect(refused.location).to.equal('/login/second-factor?rd=%2Faccount%2Ftwo-factor');
    const token = await old.csrf(refused.location as string);
    const stepUp = await old.post('/login/second-factor', { _csrf: token, code: codeAt(secret, clock.now()), rd: '/account/two-factor', remember_device: 'on' });
    expect(stepUp.status).to.equal(303);
    expect(stepUp.location).to.equal('/account/two-factor');
    expect(app.ctx.twoFactor.devices.list(bob.id)).to.have.length(1);
    expect((await post(old, '/account/two-factor/recovery-codes')).status).to.equal(201);
  });

  it('a level-2 session still needs a recent authentication (the existing rule)', async () => {
    const b = await signedIn(app, 'bob', GOOD_PASSWORD);
    await enrollApp(b);
    clock.advance(11 * 60_000);
    const res = await post(b, '/account/two-factor/recovery-codes');
    expect(res.status).to.equal(403);
    expect(res.text).to.contain('name="_reauth_password"');
  });

  it('after a later change of factors the page offers to sign out the other sessions', async () => {
    const phone = await signedIn(app, 'bob', GOOD_PASSWORD, IPHONE);
    const secret = await enrollApp(phone);
    // The laptop signs in again, with both steps.
    const laptop = new Browser(app.url, { 'user-agent': LAPTOP });
    expect((await laptop.login('bob', GOOD_PASSWORD)).location).to.equal('/login/second-factor');
    expect((await post(laptop, '/login/second-factor', { code: codeAt(secret, clock.now()) }, '/login/second-factor')).status).to.equal(303);
    clock.advance(STEP);

    expect((await phone.get('/account/two-factor')).text).not.to.contain('Sign out your other sessions');
    // A second factor: the laptop stays signed in, and the next page offers to end it.
    expect((await registerPasskey(phone)).status).to.equal(201);
    expect(await isSignedIn(laptop)).to.equal(true);
    const offered = await phone.get('/account/two-factor');
    expect(offered.text).to.contain('Sign out your other sessions');
    expect(offered.text).to.contain('action="/account/sessions/revoke-others"');
    // Shown once.
    expect((await phone.get('/account/two-factor')).text).not.to.contain('Sign out your other sessions');
    // Removing one offers it again; taking the offer ends the laptop's session only.
    const pk = app.ctx.twoFactor.passkeys.list(bob.id)[0]!;
    expect((await post(phone, `/account/two-factor/passkeys/${pk.id}/delete`)).status).to.equal(303);
    expect((await phone.get('/account/two-factor')).text).to.contain('Sign out your other sessions');
    expect((await post(phone, '/account/sessions/revoke-others')).status).to.equal(303);
    expect(await isSignedIn(laptop)).to.equal(false);
    expect(await isSignedIn(phone)).to.equal(true);
    // Turning two-factor sign-in off offers it too (nobody else is signed in now: no offer).
    expect((await post(phone, '/account/two-factor/remove')).status).to.equal(303);
    expect((await phone.get('/account/two-factor')).text).not.to.contain('Sign out your other sessions');
  });
});
