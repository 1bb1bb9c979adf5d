// "Remember this device" (issue 7 item 6) over real HTTP: a checkbox at the second step
// sets a separate HttpOnly cookie that lets THAT user skip the step on THAT browser, until
// it expires, is forgotten on /account, or the password changes.

import { expect } from 'chai';
import { Browser } from '../../support/browser.js';
import { addUser, GOOD_PASSWORD } from '../../support/harness.js';
import { codeAt, STEP, storedAuth, userWithTotp, world, type World } from './second-factor-helpers.js';
import { recentAudit } from '../../support/audit.js';

const DEVICE = 'gatehouse_device';

/** Password, then the current code with "remember this device" ticked (or not). */
async function signIn(w: World, b: Browser, username: string, secret: string, remember: boolean, headers: Record<string, string> = {}) {
  const first = await b.login(username, GOOD_PASSWORD, {}, headers);
  expect(first.status).to.equal(303);
  if (first.location !== '/login/second-factor') return { skipped: true, first, second: null };
  const page = await b.get('/login/second-factor', headers);
  const token = /name="_csrf" value="([^"]+)"/.exec(page.text)?.[1] ?? '';
  const second = await b.post('/login/second-factor', { _csrf: token, code: codeAt(secret, w.clock.now()), ...(remember ? { remember_device: 'on' } : {}) }, headers);
  w.clock.advance(STEP);
  expect(second.status).to.equal(303);
  return { skipped: false, first, second, page };
}

/** Signs out, then the password alone: true when that skipped the second step. */
async function passwordSkipsStep(b: Browser, username: string, headers: Record<string, string> = {}): Promise<boolean> {
  if ((await b.get('/', headers)).status === 200) await b.logout(headers);
  const res = await b.login(username, GOOD_PASSWORD, {}, headers);
  expect(res.status).to.equal(303);
  return res.location !== '/login/second-factor';
}

describe('sign-in: remember this device', () => {
  let w: World;
  let secret: string;
  afterEach(() => w.app.close());

  describe('with the default (30 days)', () => {
    beforeEach(async () => {
      w = await world();
      ({ secret } = await userWithTotp(w, 'alice'));
    });

    it('offers the checkbox; ticked, a separate HttpOnly SameSite=Lax cookie lets the password alone sign in at level 2', async () => {
      const b = new Browser(w.app.url);
      const { page, second } = await signIn(w, b, 'alice', secret, true);
      expect(page?.text).to.match(/<input type="checkbox" name="remember_device" value="on"> Remember this device for 30 days/);
      const cookie = second?.setCookies.find((c) => c.startsWith(`${DEVICE}=`)) ?? '';
      expect(cookie).to.match(/HttpOnly/).and.match(/SameSite=Lax/).and.match(/Path=\//).and.match(/Max-Age=2592000/);
      expect(cookie).not.to.match(/Secure/);

      expect(await passwordSkipsStep(b, 'alice')).to.equal(true);
      expect((await b.get('/')).status).to.equal(200);
      expect(storedAuth(w.app, b)).to.include({ level: 2 }).and.deep.include({ methods: ['password', 'remembered-device'] });
      expect(recentAudit(w.app.ctx, 5).map((e) => e.event)).to.include('login-succeeded');
      // The cookie alone is not a sign-in: without the password nothing happens.
      await b.logout();
      expect((await b.get('/')).location).to.equal('/login');
    });

    it('unticked: no cookie, the step stays', async () => {
      const b = new Browser(w.app.url);
      const { second } = await signIn(w, b, 'alice', secret, false);
      expect(second?.setCookies.some((c) => c.startsWith(`${DEVICE}=`))).to.equal(false);
      expect(await passwordSkipsStep(b, 'alice')).to.equal(false);
    });

    it('over HTTPS the cookie is __Host-, Secure, HttpOnly, SameSite=Lax', async () => {
      await w.app.close();
      w = await world({ server: { trusted_proxies: ['127.0.0.1', '::1'] } });
      ({ secret } = await userWithTotp(w, 'alice'));
      const https = { 'x-forwarded-proto': 'https' };
      const b = new Browser(w.app.url, https);
      const { second } = await signIn(w, b, 'alice', secret, true);
      const cookie = second?.setCookies.find((c) => c.startsWith(`__Host-${DEVICE}=`)) ?? '';
      expect(cookie).to.match(/; Secure/).and.match(/HttpOnly/).and.match(/SameSite=Lax/).and.match(/Path=\//);
      expect(cookie).not.to.match(/Domain=/i);
      expect(await passwordSkipsStep(b, 'alice')).to.equal(true);
    });

    it('is for that user only: another user on the same browser still gets the step', async () => {
      await userWithTotp(w, 'bob');
      const b = new Browser(w.app.url);
      await signIn(w, b, 'alice', secret, true);
      await b.logout();
      expect(await passwordSkipsStep(b, 'bob')).to.equal(false);
      // And a user without a factor is unaffected (password alone, as before).
      await addUser(w.app.ctx, 'carol');
      const c = new Browser(w.app.url);
      c.cookies.set(DEVICE, b.cookies.get(DEVICE) ?? '');
      expect(await passwordSkipsStep(c, 'carol')).to.equal(true);
    });

    it('forgotten on /account: listed there, and after "Forget" the step comes back', async () => {
      const b = new Browser(w.app.url);
      await signIn(w, b, 'alice', secret, true, { 'user-agent': 'TestPhone/1.0' });
      const account = await b.get('/account');
      expect(account.text).to.contain('Remembered devices').and.contain('TestPhone/1.0');
      const id = /action="\/account\/devices\/(\d+)\/revoke"/.exec(account.text)?.[1];
      expect(id).to.be.a('string');
      const token = /name="_csrf" value="([^"]+)"/.exec(account.text)?.[1] ?? '';
      const res = await b.post(`/account/devices/${id}/revoke`, { _csrf: token });
      expect(res.status).to.equal(303);
      expect((await b.get('/account')).text).not.to.contain('Remembered devices');
      expect(await passwordSkipsStep(b, 'alice')).to.equal(false);
    });

    it("cannot forget another user's device (404)", async () => {
      await userWithTotp(w, 'bob');
      const a = new Browser(w.app.url);
      await signIn(w, a, 'alice', secret, true);
      const id = w.app.ctx.db.prepare('SELECT id FROM remembered_devices').pluck().get() as number;
      await addUser(w.app.ctx, 'carol');
      const c = new Browser(w.app.url);
      await c.login('carol', GOOD_PASSWORD);
      const token = await c.csrf('/account');
      expect((await c.post(`/account/devices/${id}/revoke`, { _csrf: token })).status).to.equal(404);
      expect(await passwordSkipsStep(a, 'alice')).to.equal(true);
    });

    it('a password change forgets every remembered device', async () => {
      const b = new Browser(w.app.url);
      await signIn(w, b, 'alice', secret, true);
      const token = await b.csrf('/account/password');
      const res = await b.post('/account/password', { _csrf: token, current_password: GOOD_PASSWORD, new_password: `${GOOD_PASSWORD} again`, new_password_confirm: `${GOOD_PASSWORD} again` });
      expect(res.status).to.equal(303);
      await b.logout();
      const again = await b.login('alice', `${GOOD_PASSWORD} again`);
      expect(again.location).to.equal('/login/second-factor');
      expect(w.app.ctx.db.prepare("SELECT revoke_reason FROM remembered_devices").pluck().all()).to.deep.equal(['password-changed']);
    });

    it('a second-factor reset forgets them too', async () => {
      const b = new Browser(w.app.url);
      await signIn(w, b, 'alice', secret, true);
      const alice = w.app.ctx.users.findByUsername('alice');
      if (!alice) throw new Error('no alice');
      w.app.ctx.twoFactor.reset(alice, 'admin');
      expect(w.app.ctx.db.prepare("SELECT revoke_reason FROM remembered_devices").pluck().all()).to.deep.equal(['second-factor-reset']);
    });

    it('expires after the configured time', async () => {
      const b = new Browser(w.app.url);
      await signIn(w, b, 'alice', secret, true);
      w.clock.advance(30 * 86_400_000 - 60_000);
      expect(await passwordSkipsStep(b, 'alice')).to.equal(true);
      w.clock.advance(120_000);
      expect(await passwordSkipsStep(b, 'alice')).to.equal(false);
    });

    it('a forged or tampered cookie is ignored, never an error', async () => {
      const b = new Browser(w.app.url);
      await signIn(w, b, 'alice', secret, true);
      const real = b.cookies.get(DEVICE) ?? '';
      const flipped = `${real.slice(0, -1)}${real.endsWith('A') ? 'B' : 'A'}`;
      for (const forged of [flipped, 'x', 'A'.repeat(43), '%00%ff', `${real}.${real}`, 'a'.repeat(4000), "';DROP TABLE remembered_devices;--"]) {
        const c = new Browser(w.app.url);
        c.cookies.set(DEVICE, forged);
        expect(await passwordSkipsStep(c, 'alice'), forged.slice(0, 20)).to.equal(false);
      }
      expect(await passwordSkipsStep(b, 'alice')).to.equal(true);
    });

    it('the token is never in the database, only its SHA-256', async () => {
      const b = new Browser(w.app.url);
      await signIn(w, b, 'alice', secret, true);
      const token = decodeURIComponent(b.cookies.get(DEVICE) ?? '');
      expect(token).to.match(/^[A-Za-z0-9_-]{43}$/);
      const rows = w.app.ctx.db.prepare('SELECT * FROM remembered_devices').all() as Array<Record<string, unknown>>;
      expect(rows).to.have.length(1);
      expect(JSON.stringify(rows)).not.to.contain(token);
      const { createHash } = await import('node:crypto');
      expect(rows[0]?.token_hash).to.equal(createHash('sha256').update(token).digest('hex'));
    });
  });

  it('off when configured 0: no checkbox, and a ticked box sets nothing', async () => {
    w = await world({ two_factor: { remember_device: 0 } });
    ({ secret } = await userWithTotp(w, 'alice'));
    const b = new Browser(w.app.url);
    const { page, second } = await signIn(w, b, 'alice', secret, true);
    expect(page?.text).not.to.contain('remember_device');
    expect(second?.setCookies.some((c) => c.includes(DEVICE))).to.equal(false);
    expect(await passwordSkipsStep(b, 'alice')).to.equal(false);
  });
});
