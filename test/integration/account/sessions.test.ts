// "My sessions/devices" on /account: this device and others listed with device names,
// ending one device, another user's handle refused, sign out everywhere else, ending the
// current session signs out, and recently ended sessions with their reason.

import { expect } from 'chai';
import { Browser } from '../../support/browser.js';
import { addUser, GOOD_PASSWORD, type TestApp } from '../../support/harness.js';
import { endReason, FIREFOX, handleFor, IPHONE, isSignedIn, signedIn, startAccountApp } from './support.js';
import { recentAudit } from '../../support/audit.js';

describe('account page: sessions and devices', () => {
  let app: TestApp;
  let aliceId: number;
  beforeEach(async () => {
    app = await startAccountApp();
    aliceId = (await addUser(app.ctx, 'alice')).id;
    await addUser(app.ctx, 'bob');
  });
  afterEach(() => app.close());

  it('lists this device and another device of the same user, each with a readable device name', async () => {
    const laptop = await signedIn(app, 'alice', GOOD_PASSWORD, FIREFOX);
    await signedIn(app, 'alice', GOOD_PASSWORD, IPHONE);
    const page = await laptop.get('/account');
    expect(page.status).to.equal(200);
    expect(page.text).to.contain('Firefox 128 on Ubuntu').and.contain('Mobile Safari 17 on Apple iPhone');
    // "this device" marks the laptop's row, the one asking.
    const current = /<tr class="current">([\s\S]*?)<\/tr>/.exec(page.text)?.[1] ?? '';
    expect(current).to.contain('Firefox 128').and.contain('this device').and.contain(handleFor(app, aliceId, FIREFOX));
    expect(page.text.match(/this device<\/span>/g)).to.have.length(1);
    expect(page.text).to.contain('127.0.0.1');
    expect(page.text).to.contain('Sign out everywhere else (1)');
  });

  it('is personal: Cache-Control no-store, and anonymous visitors go to the login page', async () => {
    const b = await signedIn(app, 'alice', GOOD_PASSWORD);
    const page = await b.get('/account');
    expect(page.headers.get('cache-control')).to.equal('no-store');
    const anonymous = await new Browser(app.url).get('/account');
    expect(anonymous.status).to.equal(303);
    expect(anonymous.location).to.equal('/login');
  });

  it('shows the empty state when no other device is signed in', async () => {
    const b = await signedIn(app, 'alice', GOOD_PASSWORD);
    const page = await b.get('/account');
    expect(page.text).to.contain('No other devices are signed in.');
    expect(page.text).not.to.contain('Sign out everywhere else');
  });

  it('ends another device at once: its cookie is dead on the next request', async () => {
    const laptop = await signedIn(app, 'alice', GOOD_PASSWORD, FIREFOX);
    const phone = await signedIn(app, 'alice', GOOD_PASSWORD, IPHONE);
    const handle = handleFor(app, aliceId, IPHONE);
    const token = await laptop.csrf('/account');
    const res = await laptop.post(`/account/sessions/${handle}/revoke`, { _csrf: token });
    expect(res.status).to.equal(303);
    expect(res.location).to.equal('/account');
    expect(endReason(app, handle)).to.equal('revoked');
    const after = await laptop.get('/account');
    expect(after.status).to.equal(200);
    expect(after.text).to.contain(`Signed out the session ${handle}`);
    expect(after.text).to.contain('Signed out from another device'); // in "recently ended"

    // The phone's cookie replayed: no page, back to the login form.
    const replay = await phone.get('/');
    expect(replay.status).to.equal(303);
    expect(replay.location).to.equal('/login');
    const events = recentAudit(app.ctx, 10, 'session-revoked');
    expect(events.some((e) => JSON.stringify(e.details).includes(handle))).to.equal(true);
  });

  it("answers 404 for another user's session handle and leaves that session alive", async () => {
    const alice = await signedIn(app, 'alice', GOOD_PASSWORD, FIREFOX);
    const bob = await signedIn(app, 'bob', GOOD_PASSWORD, IPHONE);
    const bobId = app.ctx.users.findByUsername('bob')?.id as number;
    const bobHandle = handleFor(app, bobId, IPHONE);
    const token = await alice.csrf('/account');
    const res = await alice.post(`/account/sessions/${bobHandle}/revoke`, { _csrf: token });
    expect(res.status).to.equal(404);
    expect(res.text).not.to.contain(bobHandle);
    expect(endReason(app, bobHandle)).to.equal(null);
    expect(await isSignedIn(bob)).to.equal(true);
  });

  it('answers 404 for malformed or unknown handles', async () => {
    const alice = await signedIn(app, 'alice', GOOD_PASSWORD);
    const token = await alice.csrf('/account');
    for (const handle of ['abc', 'zzzzzzzzzzzz', '000000000000', `${'a'.repeat(12)}%00`, 'a'.repeat(200)]) {
      const res = await alice.post(`/account/sessions/${handle}/revoke`, { _csrf: token });
      expect(res.status, handle).to.equal(404);
    }
    expect(await isSignedIn(alice)).to.equal(true);
  });

  it('signs out everywhere else and keeps the current session', async () => {
    const laptop = await signedIn(app, 'alice', GOOD_PASSWORD, FIREFOX);
    const phone = await signedIn(app, 'alice', GOOD_PASSWORD, IPHONE);
    const tablet = await signedIn(app, 'alice', GOOD_PASSWORD, 'Mozilla/5.0 (iPad; CPU OS 17_5 like Mac OS X)');
    const bob = await signedIn(app, 'bob', GOOD_PASSWORD);
    const token = await laptop.csrf('/account');
    const res = await laptop.post('/account/sessions/revoke-others', { _csrf: token });
    expect(res.status).to.equal(303);
    const page = await laptop.get('/account');
    expect(page.text).to.contain('Signed out 2 other sessions.');
    expect(page.text).to.contain('No other devices are signed in.');
    expect(await isSignedIn(phone)).to.equal(false);
    expect(await isSignedIn(tablet)).to.equal(false);
    expect(await isSignedIn(laptop)).to.equal(true);
    expect(await isSignedIn(bob)).to.equal(true);
  });

  it('treats ending the current session from the list as signing out', async () => {
    const laptop = await signedIn(app, 'alice', GOOD_PASSWORD, FIREFOX);
    const handle = handleFor(app, aliceId, FIREFOX);
    const cookie = laptop.cookieHeader();
    const token = await laptop.csrf('/account');
    const res = await laptop.post(`/account/sessions/${handle}/revoke`, { _csrf: token });
    expect(res.status).to.equal(303);
    expect(res.location).to.equal('/login?notice=signed_out');
    expect(endReason(app, handle)).to.equal('logout');
    const replay = await new Browser(app.url).get('/', { cookie });
    expect(replay.status).to.equal(303);
    expect(replay.location).to.equal('/login');
  });

  it('lists recently ended sessions with their reason', async () => {
    const laptop = await signedIn(app, 'alice', GOOD_PASSWORD, FIREFOX);
    const phone = await signedIn(app, 'alice', GOOD_PASSWORD, IPHONE);
    await phone.logout();
    const page = await laptop.get('/account');
    const ended = page.text.slice(page.text.indexOf('Recently ended sessions'));
    expect(ended).to.contain('Mobile Safari 17 on Apple iPhone').and.contain('Signed out');
    expect(ended).not.to.contain('No sessions ended recently.');
    // Sign-in's pre-login sessions ("regenerated") are not listed as the user's sessions.
    expect(page.text).not.to.contain('Replaced at sign-in');
  });
});
