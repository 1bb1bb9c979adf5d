// Debian's Chromium driven by playwright-core (never a downloaded browser). Outside CI the
// browser tests are skipped, visibly, when /usr/bin/chromium is missing; in CI they fail.

import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
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
