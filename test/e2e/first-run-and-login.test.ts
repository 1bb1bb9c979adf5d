// A newcomer in a real browser: open the setup link, create the administrator, sign in,
// see the home page, sign out, and find the old session dead. Screenshots of each page
// (phone and desktop) land in test/e2e/screenshots/ for a human to look at.

import { join } from 'node:path';
import { expect } from 'chai';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { GOOD_PASSWORD, startApp, type TestApp } from '../support/harness.js';
import { launchChromium, requireChromium, screenshotDir } from '../support/chromium.js';

const PHONE = { width: 390, height: 844 };
const DESKTOP = { width: 1280, height: 800 };

describe('browser: first run, sign in, sign out (Chromium)', function () {
  this.timeout(60_000);
  let app: TestApp;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  const problems: string[] = [];

  before(async function () {
    requireChromium(this);
    app = await startApp();
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await app?.close();
  });
  beforeEach(async () => {
    problems.length = 0;
    context = await browser.newContext({ viewport: PHONE });
    page = await context.newPage();
    page.on('console', (msg) => {
      if (msg.type() === 'error') problems.push(msg.text());
    });
    page.on('pageerror', (err) => problems.push(err.message));
  });
  afterEach(() => context.close());

  async function shoot(name: string): Promise<void> {
    await page.setViewportSize(PHONE);
    await page.screenshot({ path: join(screenshotDir, `${name}-phone.png`), fullPage: true });
    await page.setViewportSize(DESKTOP);
    await page.screenshot({ path: join(screenshotDir, `${name}-desktop.png`), fullPage: true });
    await page.setViewportSize(PHONE);
  }

  it('creates the administrator from the setup link, signs in and out', async () => {
    const { token } = app.ctx.setup.issueIfNeeded() as { token: string };
    await page.goto(`${app.url}/setup?token=${token}`);
    await shoot('setup');
    await page.fill('#username', 'Household-Admin');
    await page.fill('#display_name', 'Sam Example');
    await page.fill('#password', GOOD_PASSWORD);
    // The strength meter answers before anyone is signed in: the setup token goes along.
    await page.locator('.strength meter').waitFor({ state: 'visible', timeout: 5000 });
    expect(await page.textContent('.strength-text')).to.equal('Very strong');
    await page.fill('#password_confirm', GOOD_PASSWORD);
    await page.click('button[type=submit]');
    await page.waitForURL(/\/login\?notice=setup$/);
    expect(await page.textContent('.notice')).to.contain('administrator account was created');
    await shoot('login');

    // A wrong password first: the generic message, the username kept.
    await page.fill('#username', 'household-admin');
    await page.fill('#password', 'not my password at all');
    await page.click('button[type=submit]');
    expect(await page.textContent('.error')).to.equal('Incorrect username or password.');
    expect(await page.inputValue('#username')).to.equal('household-admin');
    await shoot('login-failed');

    await page.fill('#password', GOOD_PASSWORD);
    await page.click('button[type=submit]');
    await page.waitForURL(`${app.url}/`);
    expect(await page.textContent('h1')).to.contain('Sam Example');
    expect(await page.textContent('main')).to.contain('Administrator');
    await shoot('home');

    const cookies = await context.cookies();
    const session = cookies.find((c) => c.name === 'gatehouse');
    expect(session?.httpOnly).to.equal(true);
    expect(session?.sameSite).to.equal('Lax');

    await page.click('header button[type=submit]');
    await page.waitForURL(/\/login\?notice=signed_out$/);
    expect(await page.textContent('.notice')).to.contain('signed out');

    // Put the old cookie back, as a thief would: it opens nothing.
    await context.addCookies([session as NonNullable<typeof session>]);
    await page.goto(`${app.url}/`);
    expect(new URL(page.url()).pathname).to.equal('/login');
    // The deliberate wrong password answers 401, which Chromium reports; nothing else may be.
    expect(problems.filter((p) => !/status of 401/.test(p)), 'console errors or CSP violations').to.deep.equal([]);
  });

  it('shows a finished 404 page', async () => {
    await page.goto(`${app.url}/no-such-page`);
    expect(await page.textContent('h1')).to.equal('Not found');
    await shoot('not-found');
    // The 404 status itself is reported by the console; nothing else may be.
    expect(problems.filter((p) => !/status of 404/.test(p))).to.deep.equal([]);
  });
});
