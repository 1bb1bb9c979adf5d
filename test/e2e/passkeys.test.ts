// A passkey in a real browser (Debian's Chromium) with a CDP virtual authenticator:
// register one on /account/two-factor, sign out, sign in with password + passkey, reach /.
// WebAuthn needs a secure context and a domain as rpID (never an IP address), so the app is
// opened as http://localhost:<port>. Screenshots of the passkey section and the second step
// (phone and desktop) land in test/e2e/screenshots/.

import { expect } from 'chai';
import type { Browser, Page } from 'playwright-core';
import { FakeClock } from '../support/clock.js';
import { addVirtualAuthenticator, collectProblems, launchChromium, PHONE, requireChromium, shoot } from '../support/chromium.js';
import { addUser, GOOD_PASSWORD, startApp, type TestApp } from '../support/harness.js';
import { recentAudit } from '../support/audit.js';


describe('browser: passkeys as the second step (Chromium, virtual authenticator)', function () {
  this.timeout(90_000);
  let app: TestApp;
  let browser: Browser;
  let base: string;
  const problems: string[] = [];

  before(async function () {
    requireChromium(this);
    app = await startApp({ clock: new FakeClock(Date.now()), config: { rate_limit: { max: 100_000 } } });
    await addUser(app.ctx, 'sam');
    const url = new URL(app.url);
    base = `http://localhost:${url.port}`;
    browser = await launchChromium(['--host-resolver-rules=MAP localhost 127.0.0.1']);
  });
  after(async () => {
    await browser?.close();
    await app?.close();
  });


  async function password(page: Page): Promise<void> {
    await page.goto(`${base}/login`);
    await page.fill('#username', 'sam');
    await page.fill('#password', GOOD_PASSWORD);
    await page.click('main button[type=submit]');
    await page.waitForURL((url) => url.pathname !== '/login');
  }

  it('registers a passkey, signs out, and signs in with password + passkey', async () => {
    const context = await browser.newContext({ viewport: PHONE });
    const page = await context.newPage();
    collectProblems(page, problems);
    await addVirtualAuthenticator(context, page);

    await password(page);
    expect(new URL(page.url()).pathname).to.equal('/');
    await page.goto(`${base}/account/two-factor`);
    await page.waitForSelector('#passkey-register:not([hidden])');
    await page.fill('#passkey-name', 'Test laptop');
    await page.click('#passkey-register button[type=submit]');
    await page.waitForSelector('.passkey-list li');
    expect(await page.textContent('#passkeys')).to.contain('Test laptop');
    await shoot(page, 'passkeys-section');

    await page.click('nav button[type=submit], form[action="/logout"] button');
    await page.waitForURL((url) => url.pathname === '/login' || url.pathname === '/');

    await password(page);
    expect(new URL(page.url()).pathname).to.equal('/login/second-factor');
    await page.waitForSelector('[data-passkey-signin]:not([hidden])');
    await shoot(page, 'second-factor-passkey');
    await page.click('[data-passkey-signin] button');
    await page.waitForURL((url) => url.pathname === '/');
    expect(await page.textContent('body')).to.contain('sam');
    const events = recentAudit(app.ctx, 20).map((e) => e.event);
    expect(events).to.include.members(['passkey-registered', 'passkey-used', 'login-succeeded']);
    expect(problems, problems.join('\n')).to.deep.equal([]);
    await context.close();
  });
});

describe('browser: passwordless sign-in with a passkey (two_factor.passkey_sign_in)', function () {
  this.timeout(90_000);
  let app: TestApp;
  let browser: Browser;
  let base: string;
  const problems: string[] = [];

  before(async function () {
    requireChromium(this);
    app = await startApp({ clock: new FakeClock(Date.now()), config: { rate_limit: { max: 100_000 }, two_factor: { passkey_sign_in: true } } });
    await addUser(app.ctx, 'kim');
    base = `http://localhost:${new URL(app.url).port}`;
    browser = await launchChromium(['--host-resolver-rules=MAP localhost 127.0.0.1']);
  });
  after(async () => {
    await browser?.close();
    await app?.close();
  });

  it('registers a passkey, signs out, and signs in with the passkey alone', async () => {
    const context = await browser.newContext({ viewport: PHONE });
    const page = await context.newPage();
    collectProblems(page, problems);
    await addVirtualAuthenticator(context, page);

    await page.goto(`${base}/login`);
    await page.fill('#username', 'kim');
    await page.fill('#password', GOOD_PASSWORD);
    await page.click('main button[type=submit]');
    await page.waitForURL((url) => url.pathname !== '/login');
    await page.goto(`${base}/account/two-factor`);
    await page.waitForSelector('#passkey-register:not([hidden])');
    await page.fill('#passkey-name', 'Phone');
    await page.click('#passkey-register button[type=submit]');
    await page.waitForSelector('.passkey-list li');
    await page.click('nav button[type=submit], form[action="/logout"] button');
    await page.waitForURL((url) => url.pathname === '/login');

    await page.waitForSelector('[data-passkey-discover]:not([hidden])');
    expect(await page.isVisible('#password')).to.equal(true);
    await shoot(page, 'login-passkey');
    await page.click('[data-passkey-discover] button');
    await page.waitForURL((url) => url.pathname === '/');
    expect(await page.textContent('body')).to.contain('kim');
    const events = recentAudit(app.ctx, 20).map((e) => e.event);
    expect(events).to.include.members(['passkey-used', 'login-succeeded']);
    expect(problems, problems.join('\n')).to.deep.equal([]);
    await context.close();
  });
});
