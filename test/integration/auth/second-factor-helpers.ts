// Shared set-up for the second-step tests: an app on a fake clock, TOTP enrolled through
// the real domain (ctx.twoFactor.totp.begin/confirm), codes computed like an app does.

import { expect } from 'chai';
import type { Browser, Reply } from '../../support/browser.js';
import { FakeClock } from '../../support/clock.js';
import { addUser, GOOD_PASSWORD, startApp, type TestApp } from '../../support/harness.js';
import { codeAt, STEP, wrongCode } from '../../unit/twofactor/support.js';
import type { User } from '../../../src/users/repository.js';

export { codeAt, STEP, wrongCode };

export interface World {
  app: TestApp;
  clock: FakeClock;
}

export async function world(config: Record<string, unknown> = {}): Promise<World> {
  const clock = new FakeClock();
  const app = await startApp({ config, clock });
  return { app, clock };
}

/** Enrolls TOTP for the user; moves the clock past the confirming code's window. */
export async function enrollTotp(w: World, user: User): Promise<string> {
  const { secret } = await w.app.ctx.twoFactor.totp.begin(user);
  const confirmed = w.app.ctx.twoFactor.totp.confirm(user, codeAt(secret, w.clock.now()));
  if (!confirmed.ok) throw new Error(`enrollment not confirmed: ${confirmed.reason}`);
  w.clock.advance(3 * STEP);
  return secret;
}

export async function userWithTotp(w: World, username: string, groups: string[] = []): Promise<{ user: User; secret: string }> {
  const user = await addUser(w.app.ctx, username, { groups });
  return { user, secret: await enrollTotp(w, user) };
}

/** Posts a code to the second step, through the form at `form` (its CSRF token and rd). */
export async function postCode(b: Browser, code: string, headers: Record<string, string> = {}, form = '/login/second-factor'): Promise<Reply> {
  const page = await b.get(form, headers);
  const token = /name="_csrf" value="([^"]+)"/.exec(page.text)?.[1];
  if (!token) throw new Error(`no second-factor form (status ${page.status}, location ${page.location})`);
  const rd = /name="rd" value="([^"]+)"/.exec(page.text)?.[1];
  return b.post('/login/second-factor', { _csrf: token, code, ...(rd ? { rd: rd.replace(/&amp;/g, '&') } : {}) }, headers);
}

/** Password, then the current TOTP code; moves the clock a step on so the next code is fresh. */
export async function signInWithTotp(w: World, b: Browser, username: string, secret: string, headers: Record<string, string> = {}): Promise<Reply> {
  const first = await b.login(username, GOOD_PASSWORD, {}, headers);
  expect(first.status).to.equal(303);
  expect(first.location).to.equal('/login/second-factor');
  const res = await postCode(b, codeAt(secret, w.clock.now()), headers);
  w.clock.advance(STEP);
  return res;
}

/** The auth facts the store keeps for the browser's current session. */
export function storedAuth(app: TestApp, b: Browser, cookie = 'gatehouse'): Record<string, unknown> | undefined {
  const sid = decodeURIComponent(b.cookies.get(cookie) ?? '');
  const raw = /^s:([^.]+)\./.exec(sid)?.[1];
  if (!raw) return undefined;
  const live = app.ctx.sessions.lookup(raw);
  return live ? (JSON.parse(live.data) as { auth?: Record<string, unknown> }).auth : undefined;
}
