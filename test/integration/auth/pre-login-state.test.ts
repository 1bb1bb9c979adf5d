// Anonymous visitors cost no table growth (issues 11 and 24): the login form is CSRF-protected
// by a signed double-submit token instead of a session row per GET, repeated refusals from
// one address are one audit entry with a count (shown on the admin page, API and CSV), and
// pre-login sessions that do need a row (passkey challenges) are capped.

import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import { ANONYMOUS_SESSIONS_MAX } from '../../../src/auth/passkey-sign-in.js';
import { PRE_LOGIN_CSRF_LIFETIME_MS } from '../../../src/http/pre-login-csrf.js';
import { hashSessionId } from '../../../src/sessions/store.js';
import { Browser } from '../../support/browser.js';
import { FakeClock } from '../../support/clock.js';
import { addUser, GOOD_PASSWORD, startApp, type TestApp } from '../../support/harness.js';
import { recentAudit } from '../../support/audit.js';

const HTTPS = { 'x-forwarded-proto': 'https' };

describe('pre-login state: no row per anonymous visitor', () => {
  let app: TestApp;
  let clock: FakeClock;
  const start = async (config: Record<string, unknown> = {}) => {
    clock = new FakeClock();
    app = await startApp({ clock, config: { rate_limit: { max: 100_000 }, throttle: { backoff_after: 99, max_failures_per_ip: 1000, max_failures_per_user: 99 }, ...config } });
    await addUser(app.ctx, 'alice', { groups: ['admins'] });
  };
  afterEach(() => app.close());
  const sessionRows = () => app.ctx.db.prepare('SELECT count(*) FROM sessions').pluck().get() as number;

  describe('the login form', () => {
    beforeEach(() => start());

    it('stores no session for 100 cookie-less GET /login, nor for a refused sign-in', async () => {
      const before = sessionRows();
      for (let i = 0; i < 100; i++) {
        const page = await new Browser(app.url).get('/login');
        expect(page.status).to.equal(200);
        expect(page.setCookies.some((c) => c.startsWith('gatehouse='))).to.equal(false);
      }
      const b = new Browser(app.url);
      expect((await b.login('alice', 'not the right password at all')).status).to.equal(401);
      expect((await b.login('mallory', GOOD_PASSWORD)).status).to.equal(401);
      expect(sessionRows()).to.equal(before);
    });

    it('still signs in with the token of its own form, and only then stores a session', async () => {
      const b = new Browser(app.url);
      const res = await b.login('alice', GOOD_PASSWORD);
      expect(res.status).to.equal(303);
      expect(app.ctx.db.prepare('SELECT count(*) FROM sessions WHERE user_id IS NOT NULL AND deleted_at IS NULL').pluck().get()).to.equal(1);
    });

    it('refuses a sign-in without a token, with a wrong one, with another browser\'s, or with a cookie not its own', async () => {
      const mine = new Browser(app.url);
      const token = await mine.csrf('/login');
      const other = new Browser(app.url);
      const otherToken = await other.csrf('/login');
      const form = { username: 'alice', password: GOOD_PASSWORD };
      const refused = async (b: Browser, fields: Record<string, string>) => {
        const res = await b.post('/login', { ...form, ...fields });
        expect(res.status, JSON.stringify(fields)).to.equal(403);
        expect(res.text).to.contain('form had expired');
      };
      await refused(mine, {});
      await refused(mine, { _csrf: '' });
      await refused(mine, { _csrf: `${token.slice(0, -2)}AA` });
      await refused(mine, { _csrf: otherToken });
      // The token without its cookie, or under a forged cookie value.
      const stranger = new Browser(app.url);
      await refused(stranger, { _csrf: token });
      stranger.cookies.set('gatehouse_csrf', `${'A'.repeat(22)}.${clock.now().toString(36)}`);
      await refused(stranger, { _csrf: token });
      // Moving the issue time forward does not extend a cookie: the token covers it.
      const [nonce] = (mine.cookies.get('gatehouse_csrf') as string).split('.');
      const moved = new Browser(app.url);
      moved.cookies.set('gatehouse_csrf', `${nonce}.${(clock.now() + 1000).toString(36)}`);
      await refused(moved, { _csrf: token });
      expect(app.ctx.db.prepare('SELECT count(*) FROM sessions WHERE user_id IS NOT NULL').pluck().get()).to.equal(0);
      expect((await mine.post('/login', { ...form, _csrf: token })).status).to.equal(303);
    });

    it('keeps the Fetch-Metadata/Origin check in front of the token', async () => {
      const b = new Browser(app.url);
      const token = await b.csrf('/login');
      const form = { _csrf: token, username: 'alice', password: GOOD_PASSWORD };
      expect((await b.post('/login', form, { 'sec-fetch-site': 'cross-site' })).status).to.equal(403);
      expect((await b.post('/login', form, { origin: 'https://evil.example' })).status).to.equal(403);
      expect((await b.post('/login', form, { 'sec-fetch-site': 'same-origin', origin: app.url })).status).to.equal(303);
    });

    it('expires a form left open too long (a fresh form, not an error), and serves every tab the same cookie', async () => {
      const b = new Browser(app.url);
      const first = await b.csrf('/login');
      const cookie = b.cookies.get('gatehouse_csrf');
      clock.advance(60_000);
      expect(await b.csrf('/login'), 'a second tab').to.equal(first);
      expect(b.cookies.get('gatehouse_csrf')).to.equal(cookie);
      clock.advance(PRE_LOGIN_CSRF_LIFETIME_MS);
      const res = await b.post('/login', { _csrf: first, username: 'alice', password: GOOD_PASSWORD });
      expect(res.status).to.equal(403);
      const fresh = /name="_csrf" value="([^"]+)"/.exec(res.text)?.[1] as string;
      expect(fresh).to.not.equal(first);
      expect((await b.post('/login', { _csrf: fresh, username: 'alice', password: GOOD_PASSWORD })).status).to.equal(303);
    });
  });

  it('over HTTPS the token cookie is __Host-, HttpOnly, Secure, SameSite=Lax, host-only even with a cookie domain', async () => {
    await start({ session: { cookie_domain: 'home.example' } });
    const page = await new Browser(app.url, HTTPS).get('/login');
    const cookie = page.setCookies.find((c) => c.startsWith('__Host-gatehouse_csrf='));
    expect(cookie, page.setCookies.join(' | ')).to.be.a('string');
    expect(cookie).to.match(/; HttpOnly/i).and.match(/; Secure/i).and.match(/; SameSite=Lax/i).and.match(/; Path=\//);
    expect(cookie).to.not.match(/Domain=/i);
    expect(page.setCookies.some((c) => /gatehouse=/.test(c))).to.equal(false);
  });

  it('caps live pre-login sessions: no new passkey challenge beyond ANONYMOUS_SESSIONS_MAX, password sign-in unaffected', async () => {
    await start({ two_factor: { passkey_sign_in: true } });
    const insert = app.ctx.db.prepare(`INSERT INTO sessions (id_hash, user_id, data, created_at, last_seen_at, idle_timeout_ms, idle_expires_at, absolute_expires_at)
      VALUES (?, NULL, '{"cookie":{}}', @now, @now, 900000, @now + 900000, @now + 7200000)`);
    const now = clock.now();
    app.ctx.db.transaction(() => {
      for (let i = 0; i < ANONYMOUS_SESSIONS_MAX - 1; i++) insert.run(hashSessionId(randomBytes(24).toString('base64url')), { now });
    })();
    const origin = new URL(app.url).origin;
    const options = async (b: Browser) =>
      b.request('POST', '/login/passkey/discover/options', { body: '{}', headers: { 'content-type': 'application/json', origin, 'x-csrf-token': await b.csrf('/login') } });
    const last = new Browser(app.url);
    expect((await options(last)).status, 'the last place').to.equal(200);
    const full = await options(new Browser(app.url));
    expect(full.status).to.equal(503);
    expect(full.headers.get('retry-after')).to.equal('60');
    expect(sessionRows()).to.equal(ANONYMOUS_SESSIONS_MAX);
    expect((await options(last)).status, 'a browser with its row asks again').to.equal(200);
    expect((await new Browser(app.url).login('alice', GOOD_PASSWORD)).status).to.equal(303);
    // Expired pre-login sessions make room again.
    clock.advance(16 * 60_000);
    expect((await options(new Browser(app.url))).status).to.equal(200);
  });

  describe('coalesced refusals', () => {
    beforeEach(() => start());

    it('records N failed sign-ins from one address as one entry with count N, shown on the admin page, API and CSV', async () => {
      const attacker = new Browser(app.url, { 'x-forwarded-for': '203.0.113.50', ...HTTPS });
      for (let i = 0; i < 12; i++) {
        expect((await attacker.login('alice', `wrong password number ${i}`)).status).to.equal(401);
        clock.advance(1000);
      }
      const failed = recentAudit(app.ctx, 50, 'login-failed');
      expect(failed).to.have.length(1);
      expect(failed[0]).to.deep.include({ username: 'alice', ip: '203.0.113.50', count: 12 });

      const admin = new Browser(app.url);
      expect((await admin.login('alice', GOOD_PASSWORD)).status).to.equal(303);
      const page = await admin.get('/admin/audit?event=login-failed');
      expect(page.text).to.contain('× 12, until 2026-01-01 12:00:11');
      expect((await admin.get('/admin')).text, 'the overview').to.contain('× 12');
      const csv = await admin.get('/admin/audit.csv?event=login-failed');
      expect(csv.text.trim().split('\n')[1]).to.match(/,12,2026-01-01T12:00:11\.000Z$/);
      const api = await admin.get('/api/v1/audit?event=login-failed');
      const body = JSON.parse(api.text) as { entries: Array<{ count: number; at: string; last_at: string }> };
      expect(body.entries[0]).to.deep.include({ count: 12, at: '2026-01-01T12:00:00.000Z', last_at: '2026-01-01T12:00:11.000Z' });
    });
  });
});
