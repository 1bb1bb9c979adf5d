// Shared steps for the account page tests: an app with room for many requests, signed-in
// browsers with distinct user agents, and reading a page's CSRF token and sessions.

import { Browser } from '../../support/browser.js';
import { startApp, type TestApp } from '../../support/harness.js';
import type { ContextOptions } from '../../../src/context.js';

export const FIREFOX = 'Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0';
export const IPHONE =
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1';

/** These tests make many requests from one address: the global limit and the login backoff have their own tests. */
export function startAccountApp(config: Record<string, unknown> = {}, options: ContextOptions = {}): Promise<TestApp> {
  return startApp({ config: { rate_limit: { max: 100_000 }, throttle: { backoff_after: 20, max_failures_per_user: 50, max_failures_known_ip: 50 }, ...config }, ...options });
}

/** A browser signed in as `username`, sending `userAgent` with every request. */
export async function signedIn(app: TestApp, username: string, password: string, userAgent = FIREFOX): Promise<Browser> {
  const b = new Browser(app.url, { 'user-agent': userAgent });
  const res = await b.login(username, password);
  if (res.status !== 303) throw new Error(`sign-in of ${username} failed with ${res.status}`);
  return b;
}

/** The handle of a user's live session signed in with `userAgent`. */
export function handleFor(app: TestApp, userId: number, userAgent: string): string {
  const s = app.ctx.sessions.list({ userId }).find((x) => x.userAgent === userAgent && x.deletedAt === null);
  if (!s) throw new Error(`no live session with user agent ${userAgent}`);
  return s.handle;
}

/** Reads the end reason of the session with this handle straight from the database. */
export function endReason(app: TestApp, handle: string): string | null {
  return app.ctx.db.prepare('SELECT delete_reason FROM sessions WHERE substr(id_hash, 1, 12) = ?').pluck().get(handle) as string | null;
}

/** Whether a browser's cookie still opens the signed-in home page. */
export async function isSignedIn(b: Browser): Promise<boolean> {
  const res = await b.get('/');
  return res.status === 200;
}
