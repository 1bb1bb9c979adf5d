// Debian's Chromium driven by playwright-core (never a downloaded browser). Outside CI the
// browser tests are skipped, visibly, when /usr/bin/chromium is missing; in CI they fail.

import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { packageRoot } from '../../src/lib/paths.js';

export const CHROMIUM = '/usr/bin/chromium';
export const screenshotDir = join(packageRoot, 'test', 'e2e', 'screenshots');

export function chromiumAvailable(): boolean {
  return existsSync(CHROMIUM);
}

/** In a mocha `before`: skip the suite when Chromium is absent (fail in CI instead). */
export function requireChromium(ctx: Mocha.Context): void {
  if (chromiumAvailable()) return;
  if (process.env.CI) throw new Error(`${CHROMIUM} is missing: run scripts/install-test-deps.sh`);
  console.warn(`    (skipping browser tests: ${CHROMIUM} not installed; run scripts/install-test-deps.sh)`);
  ctx.skip();
}

export async function launchChromium(extraArgs: string[] = []): Promise<Browser> {
  mkdirSync(screenshotDir, { recursive: true });
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    // The flags keep Chromium from reaching for the network (this machine has none).
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-dev-shm-usage',
      ...extraArgs,
    ],
  });
}

export const PHONE = { width: 390, height: 844 };
export const DESKTOP = { width: 1280, height: 800 };

/** Phone and desktop screenshots of a page into screenshotDir; neither may scroll sideways. */
export async function shoot(page: Page, name: string): Promise<void> {
  for (const [label, size] of [['phone', PHONE], ['desktop', DESKTOP]] as const) {
    await page.setViewportSize(size);
    const overflow = Number(await page.evaluate('document.documentElement.scrollWidth - document.documentElement.clientWidth'));
    expect(overflow, `${name} scrolls sideways on a ${label}`).to.be.at.most(0);
    await page.screenshot({ path: join(screenshotDir, `${name}-${label}.png`), fullPage: true });
  }
  await page.setViewportSize(PHONE);
}

/** Collects the page's console errors and uncaught exceptions (CSP violations show up there). */
export function collectProblems(page: Page, problems: string[]): void {
  page.on('console', (msg) => {
    if (msg.type() === 'error') problems.push(`${page.url()}: ${msg.text()}`);
  });
  page.on('pageerror', (err) => problems.push(`${page.url()}: ${err.message}`));
}

/** A CDP virtual authenticator (a platform passkey with user verification) for the page. */
export async function addVirtualAuthenticator(context: BrowserContext, page: Page): Promise<void> {
  const cdp = await context.newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true },
  });
}
