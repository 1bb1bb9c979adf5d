// The household in a real browser (Debian's Chromium): a member sees their devices, signs
// out another device and finds it dead, changes their password; the administrator adds a
// user who then signs in, ends that user's session, and confirms their password before a
// dangerous action. Screenshots of every main page, phone (390 px) and desktop, land in
// test/e2e/screenshots/ for a human to look at; each page is checked for sideways overflow.

import { expect } from 'chai';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { FakeClock } from '../support/clock.js';
import { collectProblems, launchChromium, PHONE, requireChromium, shoot } from '../support/chromium.js';
import { addUser, GOOD_PASSWORD, startApp, type TestApp } from '../support/harness.js';

const IPHONE_UA =
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1';
const NEW_PASSWORD = 'seven quiet lanterns glow at dusk';
const ROBIN_PASSWORD = 'robin keeps the garden shed tidy';

describe('browser: account and admin pages (Chromium)', function () {
  this.timeout(90_000);
  let app: TestApp;
  let clock: FakeClock;
  let browser: Browser;
  const contexts: BrowserContext[] = [];
  const problems: string[] = [];

  before(async function () {
    requireChromium(this);
    clock = new FakeClock(Date.now());
    // Many page loads from one address in a short test: lift the global per-IP limit.
    app = await startApp({ clock, config: { rate_limit: { max: 100_000 } } });
    await addUser(app.ctx, 'sam', { groups: ['admins'] });
    app.ctx.accounts.update('sam', { displayName: 'Sam Example', email: 'sam@home.example' }, 'test');
    browser = await launchChromium();
  });
  after(async () => {
    for (const c of contexts) await c.close().catch(() => undefined);
    await browser?.close();
    await app?.close();
  });

  async function newPage(options: { userAgent?: string } = {}): Promise<Page> {
    const context = await browser.newContext({ viewport: PHONE, ...options });
    contexts.push(context);
    const page = await context.newPage();
    collectProblems(page, problems);
    return page;
  }

  async function signIn(page: Page, username: string, password: string): Promise<void> {
    await page.goto(`${app.url}/login`);
    await page.fill('#username', username);
    await page.fill('#password', password);
    await page.click('main button[type=submit]');
    await page.waitForURL((url) => url.pathname !== '/login');
  }

  /** Phone and desktop screenshots; neither may scroll sideways. */

  it('a member sees their devices, signs out another one, and changes their password', async () => {
    const laptop = await newPage();
    const phone = await newPage({ userAgent: IPHONE_UA });
    await signIn(laptop, 'sam', GOOD_PASSWORD);
    await signIn(phone, 'sam', GOOD_PASSWORD);

    await laptop.goto(`${app.url}/account`);
    const devices = laptop.locator('#devices tbody tr');
    expect(await devices.count()).to.equal(2);
    expect(await laptop.locator('#devices tr.current').textContent()).to.contain('this device');
    const other = devices.filter({ hasText: 'iPhone' });
    expect(await other.count()).to.equal(1);
    await shoot(laptop, 'account');

    // Only the current device is "this device"; the other one's button names its device to screen readers.
    await other.getByRole('button', { name: /^Sign out Mobile Safari/ }).click();
    await laptop.waitForURL(`${app.url}/account`);
    expect(await laptop.locator('#devices tbody tr').count()).to.equal(1);
    expect(await laptop.locator('main').textContent()).to.contain('No other devices are signed in.');
    // The phone's session is dead server-side at once: its next page is the login page.
    await phone.goto(`${app.url}/account`);
    expect(new URL(phone.url()).pathname).to.equal('/login');
    // …and the ended session is listed with its reason.
    await laptop.reload();
    expect(await laptop.locator('main').textContent()).to.match(/Recently ended sessions[\s\S]*iPhone/);

    await laptop.click('text=Change password');
    await laptop.waitForURL(`${app.url}/account/password`);
    await laptop.fill('input[name=current_password]', GOOD_PASSWORD);
    await laptop.fill('input[name=new_password]', NEW_PASSWORD);
    await laptop.fill('input[name=new_password_confirm]', NEW_PASSWORD);
    // The strength meter (public/password-meter.js) answers while typing.
    await laptop.locator('.strength meter').waitFor({ state: 'visible', timeout: 5000 });
    await shoot(laptop, 'account-password');
    await laptop.click('main button[type=submit]');
    await laptop.waitForURL(`${app.url}/account`);
    expect(await laptop.locator('main').textContent()).to.contain('Your password was changed.');

    const fresh = await newPage();
    await fresh.goto(`${app.url}/login`);
    await fresh.fill('#username', 'sam');
    await fresh.fill('#password', GOOD_PASSWORD);
    await fresh.click('main button[type=submit]');
    expect(await fresh.textContent('.error')).to.equal('Incorrect username or password.');
    await signIn(fresh, 'sam', NEW_PASSWORD);
    expect(new URL(fresh.url()).pathname).to.equal('/');
  });

  it('the administrator adds a user who signs in, ends their session, and re-confirms before a dangerous action', async () => {
    const admin = await newPage();
    await signIn(admin, 'sam', NEW_PASSWORD);
    await admin.goto(`${app.url}/admin`);
    expect(await admin.locator('h1').first().textContent()).to.match(/admin/i);
    await shoot(admin, 'admin-overview');

    await admin.goto(`${app.url}/admin/users/new`);
    await admin.fill('#username', 'robin');
    await admin.fill('#display_name', 'Robin Example');
    await admin.fill('#password', ROBIN_PASSWORD);
    await admin.fill('#password_confirm', ROBIN_PASSWORD);
    await shoot(admin, 'admin-user-new');
    await admin.click('main form[action="/admin/users"] button[type=submit]');
    await admin.waitForURL((url) => url.pathname.startsWith('/admin/users/'));
    expect(await admin.locator('main').textContent()).to.contain('Robin Example');

    const robin = await newPage({ userAgent: IPHONE_UA });
    await signIn(robin, 'robin', ROBIN_PASSWORD);
    expect(await robin.locator('h1').textContent()).to.contain('Robin Example');
    expect(await robin.locator('header').textContent()).not.to.contain('Admin');

    await admin.goto(`${app.url}/admin/users`);
    expect(await admin.locator('main').textContent()).to.contain('robin');
    await shoot(admin, 'admin-users');

    await admin.goto(`${app.url}/admin/sessions`);
    const robinRow = admin.locator('tbody tr').filter({ hasText: 'robin' });
    expect(await robinRow.count()).to.equal(1);
    await shoot(admin, 'admin-sessions');
    await robinRow.getByRole('button', { name: 'End session' }).click();
    await admin.waitForURL((url) => url.pathname === '/admin/sessions');
    expect(await admin.locator('tbody tr').filter({ hasText: 'robin' }).count()).to.equal(0);
    await robin.reload();
    expect(new URL(robin.url()).pathname).to.equal('/login');

    await admin.goto(`${app.url}/admin/audit`);
    // In words, not codes: who ended whose session.
    expect(await admin.locator('main').textContent()).to.match(/Session [0-9a-f]{12} of robin was ended by administrator sam\./);
    await shoot(admin, 'admin-audit');
    await admin.goto(`${app.url}/admin/bans`);
    await shoot(admin, 'admin-bans');

    // Eleven minutes later, renaming robin first asks for the administrator's password, in
    // the answer to the form itself; once it is confirmed, the rename typed before goes through.
    clock.advance(11 * 60_000);
    await admin.goto(`${app.url}/admin/users/robin`);
    await shoot(admin, 'admin-user');
    await admin.fill('#display_name', 'Robin R.');
    await admin.click('#profile button[type=submit]');
    await admin.waitForURL(`${app.url}/admin/users/robin`);
    await admin.locator('input[name=_reauth_password]').waitFor({ state: 'visible' });
    expect(app.ctx.users.findByUsername('robin')?.displayName).to.equal('Robin Example');
    await shoot(admin, 'reauth');
    await admin.fill('input[name=_reauth_password]', NEW_PASSWORD);
    await admin.getByRole('button', { name: 'Confirm and continue' }).click();
    await admin.waitForURL(`${app.url}/admin/users/robin`);
    await admin.locator('#profile').waitFor();
    expect(app.ctx.users.findByUsername('robin')?.displayName).to.equal('Robin R.');
    // Within the next ten minutes nothing asks again.
    await admin.getByRole('button', { name: 'Disable robin' }).click();
    await admin.waitForURL(`${app.url}/admin/users/robin`);
    expect(app.ctx.users.findByUsername('robin')?.disabled).to.equal(true);

    // Nothing on any page logged an error or a CSP violation, except the deliberate 401 of
    // the wrong password in the first test and the 403 of the password prompt.
    expect(problems.filter((p) => !/status of 40[13]/.test(p))).to.deep.equal([]);
  });
});
