// Shared set-up for the admin page tests: an app with a fake clock and a generous rate
// limit, signed-in browsers, CSRF tokens from admin pages, and a snapshot of everything an
// admin action could change (to prove that a refused request changed nothing).

import { Browser, type Reply } from '../../support/browser.js';
import { FakeClock } from '../../support/clock.js';
import { addUser, GOOD_PASSWORD, startApp, type TestApp } from '../../support/harness.js';

export { GOOD_PASSWORD };

/** A second strong password (passes the policy, differs from GOOD_PASSWORD). */
export const OTHER_PASSWORD = 'purple elephant dancing quietly';

export interface AdminApp extends TestApp {
  clock: FakeClock;
}

/**
 * Users: root and ops (administrators), alice (member). Two administrators so that the
 * last-admin rule does not get in the way unless a test wants it.
 */
export async function startAdminApp(config: Record<string, unknown> = {}): Promise<AdminApp> {
  const clock = new FakeClock();
  // Each test drives many requests from one address; throttling has its own tests.
  const app = await startApp({ clock, config: { rate_limit: { max: 100_000 }, throttle: { backoff_after: 20 }, ...config } });
  await addUser(app.ctx, 'root', { groups: ['admins'] });
  await addUser(app.ctx, 'ops', { groups: ['admins'] });
  await addUser(app.ctx, 'alice', { groups: ['family'] });
  return Object.assign(app, { clock });
}

export async function signIn(app: TestApp, username: string, password = GOOD_PASSWORD, headers: Record<string, string> = {}): Promise<Browser> {
  const b = new Browser(app.url, headers);
  const res = await b.login(username, password);
  if (res.status !== 303) throw new Error(`sign-in of ${username} failed: ${res.status}`);
  return b;
}

/** A form post as a browser sends it from `page`: with the page's CSRF token and Referer. */
export async function submit(b: Browser, page: string, action: string, fields: Record<string, string | string[]> = {}): Promise<Reply> {
  const token = await b.csrf(page);
  return b.post(action, { _csrf: token, ...fields }, { referer: new URL(page, b.baseUrl).href });
}

/** Everything an admin action changes: accounts, signed-in sessions, bans, tokens, audit. */
export function snapshot(app: TestApp): string {
  const db = app.ctx.db;
  return JSON.stringify({
    users: db.prepare('SELECT id, username, display_name, email, password_hash, groups, disabled, must_change_password, deletion_requested_at FROM users ORDER BY id').all(),
    sessions: db.prepare('SELECT id_hash, user_id, deleted_at, delete_reason FROM sessions WHERE user_id IS NOT NULL ORDER BY id_hash').all(),
    bans: db.prepare('SELECT * FROM throttle_counters ORDER BY rowid').all(),
    tokens: db.prepare('SELECT * FROM api_tokens ORDER BY id').all(),
    audit: db.prepare('SELECT event, user_id, username, details FROM audit_log ORDER BY id').all(),
  });
}

/** The flash messages a page shows. */
export function flashes(page: Reply): string[] {
  return [...page.text.matchAll(/<p class="(?:notice|warning|error)" role="status">([^<]*)<\/p>/g)].map((m) => m[1] as string);
}

export function liveSessionsOf(app: TestApp, username: string): number {
  return app.ctx.db
    .prepare('SELECT count(*) FROM sessions s JOIN users u ON u.id = s.user_id WHERE u.username = ? AND s.deleted_at IS NULL')
    .pluck()
    .get(username) as number;
}
