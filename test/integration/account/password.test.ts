// Changing one's own password on /account/password: the current password is required, the
// policy applies (length 15..256, common passwords, the username), exactly what was typed
// is kept, other sessions end, and a forced change (reset or password.max_age) comes first.

import { expect } from 'chai';
import { Browser } from '../../support/browser.js';
import { FakeClock } from '../../support/clock.js';
import { addUser, GOOD_PASSWORD, type TestApp } from '../../support/harness.js';
import { endReason, FIREFOX, handleFor, IPHONE, isSignedIn, signedIn, startAccountApp } from './support.js';
import { recentAudit } from '../../support/audit.js';

const DAY = 86_400_000;

async function change(b: Browser, current: string, next: string, extra: Record<string, string> = {}) {
  const token = await b.csrf('/account/password');
  return b.post('/account/password', { _csrf: token, current_password: current, new_password: next, new_password_confirm: next, ...extra });
}

async function canSignIn(app: TestApp, username: string, password: string): Promise<boolean> {
  const res = await new Browser(app.url).login(username, password);
  return res.status === 303;
}

describe('account: change password', () => {
  let app: TestApp;
  let aliceId: number;
  beforeEach(async () => {
    app = await startAccountApp();
    aliceId = (await addUser(app.ctx, 'alice')).id;
  });
  afterEach(() => app.close());

  it('renders a form password managers understand, with the strength meter attached', async () => {
    const b = await signedIn(app, 'alice', GOOD_PASSWORD);
    const page = await b.get('/account/password');
    expect(page.status).to.equal(200);
    expect(page.headers.get('cache-control')).to.equal('no-store');
    expect(page.text).to.match(/<input[^>]+name="current_password"[^>]+type="password"[^>]+autocomplete="current-password"/);
    expect(page.text).to.match(/<input[^>]+name="new_password"[^>]+type="password"[^>]+autocomplete="new-password"[^>]*data-strength-meter/);
    expect(page.text).to.contain('<script src="/password-meter.js" defer></script>');
    expect(page.text).not.to.match(/onpaste|<script>/i);
  });

  it('asks for the new password twice: different or missing confirmations are refused with 400 and change nothing', async () => {
    const b = await signedIn(app, 'alice', GOOD_PASSWORD);
    const page = await b.get('/account/password');
    expect(page.text).to.match(/<label for="new_password_confirm">New password again<\/label>/);
    expect(page.text).to.match(/<input[^>]+name="new_password_confirm"[^>]+type="password"[^>]+autocomplete="new-password"[^>]+required/);
    const typo = await change(b, GOOD_PASSWORD, 'a brand new pass phrase', { new_password_confirm: 'a brand new pass phrsae' });
    expect(typo.status).to.equal(400);
    expect(typo.text).to.contain('The two new passwords do not match.');
    expect(typo.text).not.to.contain('a brand new pass phr');
    const token = await b.csrf('/account/password');
    const missing = await b.post('/account/password', { _csrf: token, current_password: GOOD_PASSWORD, new_password: 'a brand new pass phrase' });
    expect(missing.status).to.equal(400);
    expect(missing.text).to.contain('The new password again is missing.');
    expect(await canSignIn(app, 'alice', GOOD_PASSWORD)).to.equal(true);
    expect(await canSignIn(app, 'alice', 'a brand new pass phrase')).to.equal(false);
    // Refused before the current password is checked: no throttle attempt, no audit entry.
    const events = recentAudit(app.ctx, 10).map((e) => e.event);
    expect(events.filter((e) => ['reauth-failed', 'reauth-succeeded', 'password-changed'].includes(e))).to.deep.equal([]);
  });

  it('refuses a wrong current password with 403 and changes nothing', async () => {
    const b = await signedIn(app, 'alice', GOOD_PASSWORD, FIREFOX);
    const phone = await signedIn(app, 'alice', GOOD_PASSWORD, IPHONE);
    const res = await change(b, 'not my password at all', 'a brand new pass phrase');
    expect(res.status).to.equal(403);
    expect(res.text).to.contain('That is not your current password.');
    expect(res.text).to.match(/name="new_password"/); // the form again
    expect(await canSignIn(app, 'alice', GOOD_PASSWORD)).to.equal(true);
    expect(await canSignIn(app, 'alice', 'a brand new pass phrase')).to.equal(false);
    expect(await isSignedIn(phone)).to.equal(true);
    expect(recentAudit(app.ctx, 10).map((e) => e.event)).to.include('reauth-failed').and.not.include('password-changed');
  });

  it('refuses 14 characters, accepts 15, 64 and 200, each then usable to sign in', async () => {
    const b = await signedIn(app, 'alice', GOOD_PASSWORD);
    const short = await change(b, GOOD_PASSWORD, 'mauve otter ab');
    expect(short.status).to.equal(400);
    expect(short.text).to.contain('Use at least 15 characters');
    expect(await canSignIn(app, 'alice', 'mauve otter ab')).to.equal(false);

    let current = GOOD_PASSWORD;
    for (const next of ['mauve otter abc', 'lantern '.repeat(8).slice(0, 63) + 'q', `${'velvet kettle drum '.repeat(11)}`.slice(0, 199) + 'z']) {
      const res = await change(b, current, next);
      expect(res.status, `${[...next].length} characters`).to.equal(303);
      expect(res.location).to.equal('/account');
      expect(await canSignIn(app, 'alice', next), `${[...next].length} characters`).to.equal(true);
      expect(await canSignIn(app, 'alice', current)).to.equal(false);
      current = next;
    }
    expect([...current].length).to.equal(200);
  });

  it('refuses a common password and one that is mostly the username', async () => {
    const b = await signedIn(app, 'alice', GOOD_PASSWORD);
    const common = await change(b, GOOD_PASSWORD, 'passwordpassword');
    expect(common.status).to.equal(400);
    expect(common.text).to.contain('commonly used passwords');
    const username = await change(b, GOOD_PASSWORD, 'alice-alice-alice-2');
    expect(username.status).to.equal(400);
    expect(username.text).to.contain('mostly your username');
    expect(await canSignIn(app, 'alice', GOOD_PASSWORD)).to.equal(true);
  });

  it('keeps exactly what was typed: the first 72 characters of a 100-character password do not sign in', async () => {
    const b = await signedIn(app, 'alice', GOOD_PASSWORD);
    const long = 'Xq7 heron lattice ember quill'.repeat(4).slice(0, 100);
    expect((await change(b, GOOD_PASSWORD, long)).status).to.equal(303);
    expect(await canSignIn(app, 'alice', long.slice(0, 72))).to.equal(false);
    expect(await canSignIn(app, 'alice', long.slice(0, 99))).to.equal(false);
    expect(await canSignIn(app, 'alice', long)).to.equal(true);
  });

  it('ends the other sessions with reason password-changed and keeps this one', async () => {
    const laptop = await signedIn(app, 'alice', GOOD_PASSWORD, FIREFOX);
    const phone = await signedIn(app, 'alice', GOOD_PASSWORD, IPHONE);
    const phoneHandle = handleFor(app, aliceId, IPHONE);
    const res = await change(laptop, GOOD_PASSWORD, 'seven quiet lanterns glow');
    expect(res.status).to.equal(303);
    const page = await laptop.get('/account');
    expect(page.status).to.equal(200);
    expect(page.text).to.contain('Your password was changed. 1 other session was signed out.');
    expect(endReason(app, phoneHandle)).to.equal('password-changed');
    expect(await isSignedIn(phone)).to.equal(false);
    const events = recentAudit(app.ctx, 10, 'password-changed');
    expect(events).to.have.length(1);
    expect(JSON.stringify(events)).not.to.contain('seven quiet lanterns glow');
  });

  it('continues this session under a new ID: the cookie from before the change is dead', async () => {
    const laptop = await signedIn(app, 'alice', GOOD_PASSWORD, FIREFOX);
    const before = laptop.cookieHeader();
    const res = await change(laptop, GOOD_PASSWORD, 'seven quiet lanterns glow');
    expect(res.status).to.equal(303);
    expect(laptop.cookieHeader()).not.to.equal(before);
    expect(await isSignedIn(laptop)).to.equal(true);
    const copy = new Browser(app.url);
    const page = await copy.get('/account', { cookie: before });
    expect(page.status).to.equal(303);
    expect(page.location).to.equal('/login');
  });
});

describe('account: forced password change', () => {
  let app: TestApp;
  let clock: FakeClock;
  beforeEach(async () => {
    clock = new FakeClock();
    app = await startAccountApp({ session: { cookie_domain: 'home.example' }, password: { max_age: '30d' } }, { clock });
    await addUser(app.ctx, 'alice');
  });
  afterEach(() => app.close());

  it('after an administrator reset: pages lead to /account/password, the reason is explained, and the user goes on to rd', async () => {
    await app.ctx.accounts.setPassword('alice', 'temporary given pass', 'admin:root', { reset: true });
    const b = new Browser(app.url);
    const rd = 'https://photos.home.example/album?id=3';
    const token = await b.csrf(`/login?rd=${encodeURIComponent(rd)}`);
    const login = await b.post('/login', { _csrf: token, username: 'alice', password: 'temporary given pass', rd });
    expect(login.status).to.equal(303);
    expect(login.location).to.equal(`/account/password?rd=${encodeURIComponent(rd)}`);

    for (const path of ['/', '/account']) {
      const res = await b.get(path);
      expect(res.status, path).to.equal(303);
      expect(res.location, path).to.equal('/account/password');
    }
    const form = await b.get(login.location as string);
    expect(form.status).to.equal(200);
    expect(form.text).to.contain('An administrator set a temporary password for you.');
    expect(form.text).to.contain(`name="rd" value="${rd.replace('&', '&amp;')}"`);

    const res = await change(b, 'temporary given pass', 'my own secret phrase now', { rd });
    expect(res.status).to.equal(303);
    expect(res.location).to.equal(rd);
    expect((await b.get('/')).status).to.equal(200);
    expect(app.ctx.users.findByUsername('alice')?.mustChangePassword).to.equal(false);
  });

  it('refuses page forms and the JSON API with 403 password-change-required until the change', async function () {
    await app.ctx.accounts.setPassword('alice', 'temporary given pass', 'admin:root', { reset: true });
    const b = await signedIn(app, 'alice', 'temporary given pass');
    const token = await b.csrf('/account/password');
    const form = await b.post('/account/sessions/revoke-others', { _csrf: token }, { accept: 'application/json' });
    expect(form.status).to.equal(403);
    expect(JSON.parse(form.text)).to.deep.equal({ error: { code: 'password-change-required', message: 'Choose a new password before doing anything else.' } });
    const api = await b.get('/api/v1/me/sessions');
    if (api.status === 404) this.skip(); // the JSON API is wired up separately
    expect(api.status).to.equal(403);
    expect((JSON.parse(api.text) as { error: { code: string } }).error.code).to.equal('password-change-required');
  });

  it('rejects an unsafe rd and falls back to /account', async () => {
    await app.ctx.accounts.setPassword('alice', 'temporary given pass', 'admin:root', { reset: true });
    const b = await signedIn(app, 'alice', 'temporary given pass');
    for (const rd of ['https://evil.example/', '//evil.example/', 'javascript:alert(1)', 'https://home.example.evil.com/']) {
      const page = await b.get(`/account/password?rd=${encodeURIComponent(rd)}`);
      expect(page.text).not.to.contain('name="rd"');
    }
    const res = await change(b, 'temporary given pass', 'my own secret phrase now', { rd: 'https://evil.example/' });
    expect(res.status).to.equal(303);
    expect(res.location).to.equal('/account');
  });

  it('password.max_age: a password older than the limit must be changed before anything else', async () => {
    clock.advance(31 * DAY);
    const b = new Browser(app.url);
    const login = await b.login('alice', GOOD_PASSWORD);
    expect(login.location).to.equal('/account/password');
    expect((await b.get('/')).location).to.equal('/account/password');
    const form = await b.get('/account/password');
    expect(form.text).to.contain('Your password is older than 30d');
    expect((await change(b, GOOD_PASSWORD, 'fresh autumn pass phrase')).location).to.equal('/account');
    expect((await b.get('/')).status).to.equal(200);
    const page = await b.get('/account/password');
    expect(page.text).not.to.contain('older than');
  });
});
