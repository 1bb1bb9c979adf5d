// Issue 21 in a real browser (Debian's Chromium): with the production two_factor default the
// setup page warns that administrators need a second factor, the first sign-in lands on an
// enrollment page that says why, offers an app and a passkey and lets the admin sign out;
// a member's home lists the services the access rules open to them; an app's sign-out link
// shows one button. Phone and desktop screenshots, no sideways scrolling.

import { expect } from 'chai';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { collectProblems, launchChromium, PHONE, requireChromium, shoot } from '../support/chromium.js';
import { addUser, GOOD_PASSWORD, startApp, type TestApp } from '../support/harness.js';

const SERVICES = [
  { name: 'Photos', url: 'https://photos.home.example/', description: 'Family albums and the shared camera roll', icon: '📷' },
  { name: 'Recipes', url: 'https://recipes.home.example/', icon: '🍲' },
  { name: 'Network storage', url: 'https://nas.home.example/', description: 'Backups and shared folders', icon: 'NAS' },
  { name: 'Router admin', url: 'https://router.home.example/', icon: '🛠' },
];

describe('browser: first sign-in and the portal home (Chromium)', function () {
  this.timeout(90_000);
  let app: TestApp;
  let browser: Browser;
  const contexts: BrowserContext[] = [];
  const problems: string[] = [];

  before(async function () {
    requireChromium(this);
    app = await startApp({
      config: {
        two_factor: { required_for_groups: ['admins'] },
        rate_limit: { max: 100_000 },
        portal_url: 'https://auth.home.example',
        session: { cookie_domain: 'home.example' },
        access_control: {
          default_policy: 'deny',
          rules: [
            { domain: 'router.home.example', subject: 'group:admins', policy: 'one_factor' },
            { domain: '*.home.example', policy: 'one_factor' },
          ],
        },
        portal: { services: SERVICES },
      },
    });
    browser = await launchChromium();
  });
  after(async () => {
    for (const c of contexts) await c.close().catch(() => undefined);
    await browser?.close();
    await app?.close();
  });

  async function newPage(): Promise<Page> {
    const context = await browser.newContext({ viewport: PHONE });
    contexts.push(context);
    const page = await context.newPage();
    collectProblems(page, problems);
    return page;
  }

  async function signIn(page: Page, username: string): Promise<void> {
    await page.goto(`${app.url}/login`);
    await page.fill('#username', username);
    await page.fill('#password', GOOD_PASSWORD);
    await page.click('main button[type=submit]');
    await page.waitForURL((url) => url.pathname !== '/login');
  }

  it('the first administrator is told before and after that a second factor comes first, and can leave', async () => {
    const page = await newPage();
    const { token } = app.ctx.setup.issueIfNeeded() as { token: string };
    await page.goto(`${app.url}/setup?token=${token}`);
    expect(await page.locator('main .notice').textContent()).to.contain('Administrators must use a second factor');
    await shoot(page, 'setup-second-factor');
    await page.fill('#username', 'sam');
    await page.fill('#password', GOOD_PASSWORD);
    await page.fill('#password_confirm', GOOD_PASSWORD);
    await page.click('main button[type=submit]');
    await page.waitForURL((url) => url.pathname === '/login');

    await signIn(page, 'sam');
    expect(new URL(page.url()).pathname).to.equal('/account/two-factor');
    expect(await page.locator('h1').first().textContent()).to.equal('Set up a second factor to continue');
    expect(await page.locator('#why').textContent()).to.contain('Administrators must use a second factor');
    // Both ways: the app's button, and (this browser can make passkeys on localhost) the passkey form.
    expect(await page.getByRole('button', { name: 'Set up an authenticator app' }).isVisible()).to.equal(true);
    expect(await page.getByRole('link', { name: 'Add a passkey' }).isVisible()).to.equal(true);
    await page.locator('#passkey-register').waitFor({ state: 'visible' });
    // Nothing that loops back: no My account or Admin in the header.
    expect(await page.locator('header a[href="/account"], header a[href="/admin"]').count()).to.equal(0);
    await shoot(page, 'enrollment-required');

    await page.locator('#why').getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL((url) => url.pathname === '/login');
    expect(await page.locator('main').textContent()).to.contain('Forgot your password?');
    await shoot(page, 'login-signed-out');
  });

  it('a member’s home lists the services they may open; an app’s sign-out link asks once', async () => {
    await addUser(app.ctx, 'kim');
    const page = await newPage();
    await signIn(page, 'kim');
    expect(new URL(page.url()).pathname).to.equal('/');
    const names = await page.locator('.services .service-name').allTextContents();
    expect(names).to.deep.equal(['Photos', 'Recipes', 'Network storage']);
    await shoot(page, 'home-services');

    await page.goto(`${app.url}/logout?rd=${encodeURIComponent('https://photos.home.example/')}`);
    expect(await page.locator('main button').count()).to.equal(1);
    expect(await page.locator('main').textContent()).to.contain('photos.home.example');
    await shoot(page, 'logout');
    // Still signed in after looking at it.
    await page.goto(`${app.url}/account`);
    expect(new URL(page.url()).pathname).to.equal('/account');
    expect(problems).to.deep.equal([]);
  });
});
