// Sign-in and sign-out through the real app over real HTTP: success, failure, fixation,
// CSRF, logout replay, and accounts that are disabled or deleted while signed in.

import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import { sign } from 'cookie-signature';
import type { SessionData } from 'express-session';
import { Browser } from '../../support/browser.js';
import { addUser, GOOD_PASSWORD, startApp, type TestApp } from '../../support/harness.js';
import { recentAudit } from '../../support/audit.js';

interface Row {
  deleted_at: number | null;
  delete_reason: string | null;
  user_id: number | null;
  bound_ip: string | null;
}

function sessionRows(app: TestApp): Row[] {
  return app.ctx.db.prepare('SELECT deleted_at, delete_reason, user_id, bound_ip FROM sessions ORDER BY created_at').all() as Row[];
}

/**
 * A pre-login session such as a passkey challenge or a pending second step leaves (showing
 * the login form stores none): its row, and its signed cookie in `b`'s jar.
 */
async function plantPreLoginSession(app: TestApp, b: Browser): Promise<string> {
  const sid = randomBytes(24).toString('base64url');
  const data = { cookie: { originalMaxAge: null, expires: null, httpOnly: true, path: '/', sameSite: 'lax', secure: false }, passkeyDiscoverChallenge: { challenge: 'x', at: app.ctx.clock.now() } };
  await new Promise<void>((resolve, reject) => app.ctx.sessionStore.set(sid, data as unknown as SessionData, (err) => (err ? reject(err as Error) : resolve())));
  const cookie = encodeURIComponent(`s:${sign(sid, app.ctx.secrets.cookieSecret)}`);
  b.cookies.set('gatehouse', cookie);
  return cookie;
}

describe('sign-in and sign-out', () => {
  let app: TestApp;
  beforeEach(async () => {
    app = await startApp();
    await addUser(app.ctx, 'alice', { groups: ['admins'] });
    // A second administrator: gatehouse never disables or deletes the last one.
    await addUser(app.ctx, 'root', { groups: ['admins'] });
  });
  afterEach(() => app.close());

  it('renders a login form that password managers understand', async () => {
    const page = await new Browser(app.url).get('/login');
    expect(page.status).to.equal(200);
    expect(page.text).to.match(/<input[^>]+name="username"[^>]+autocomplete="username"/);
    expect(page.text).to.match(/<input[^>]+name="password"[^>]+type="password"[^>]+autocomplete="current-password"|<input[^>]+type="password"[^>]+autocomplete="current-password"/);
    expect(page.text).not.to.match(/<script/i);
    expect(page.text).not.to.match(/onpaste/i);
  });

  it('signs in with the right password and lands on the home page', async () => {
    const b = new Browser(app.url);
    const res = await b.login('alice', GOOD_PASSWORD);
    expect(res.status).to.equal(303);
    expect(res.location).to.equal('/');
    const home = await b.get('/');
    expect(home.status).to.equal(200);
    expect(home.text).to.contain('alice').and.contain('admins');
    expect(recentAudit(app.ctx, 5).map((e) => e.event)).to.include('login-succeeded');
  });

  it('gives a new session ID at sign-in and kills the pre-login one (fixation)', async () => {
    const b = new Browser(app.url);
    const token = await b.csrf('/login');
    const before = await plantPreLoginSession(app, b);
    await b.post('/login', { _csrf: token, username: 'alice', password: GOOD_PASSWORD });
    const after = b.cookies.get('gatehouse');
    expect(after).to.be.a('string').and.not.equal(before);

    // An attacker who planted (or kept) the pre-login cookie gets nothing.
    const attacker = new Browser(app.url);
    attacker.cookies.set('gatehouse', before as string);
    const res = await attacker.get('/');
    expect(res.status).to.equal(303);
    expect(res.location).to.equal('/login');
    const rows = sessionRows(app);
    expect(rows[0]).to.include({ delete_reason: 'regenerated', user_id: null });
  });

  for (const [label, username, password] of [
    ['a wrong password', 'alice', 'not the right password at all'],
    ['an unknown user', 'mallory', GOOD_PASSWORD],
    ['a look-alike of the username', 'alіce', GOOD_PASSWORD], // Cyrillic і
  ] as const) {
    it(`refuses ${label} with 401 and the one generic message`, async () => {
      const b = new Browser(app.url);
      const res = await b.login(username, password);
      expect(res.status).to.equal(401);
      expect(res.text).to.contain('Incorrect username or password.');
      expect(b.cookies.has('gatehouse')).to.equal(false); // a refused sign-in stores no session
      expect((await b.get('/')).status).to.equal(303);
      const failed = recentAudit(app.ctx, 5, 'login-failed');
      expect(failed[0]?.details.reason).to.equal('bad-credentials');
      expect(JSON.stringify(failed)).not.to.contain(password);
    });
  }

  it('refuses a disabled user with the same generic message', async () => {
    app.ctx.accounts.disable('alice', 'test');
    const res = await new Browser(app.url).login('alice', GOOD_PASSWORD);
    expect(res.status).to.equal(401);
    expect(res.text).to.contain('Incorrect username or password.');
    expect(res.text).not.to.match(/disabled/i);
  });

  it('honours "keep me signed in" with a persistent cookie and the remember-me lifetime', async () => {
    const b = new Browser(app.url);
    const res = await b.login('alice', GOOD_PASSWORD, { remember: 'on' });
    const cookie = res.setCookies.find((c) => c.startsWith('gatehouse='));
    expect(cookie).to.match(/Expires=/);
    const row = app.ctx.db.prepare('SELECT absolute_expires_at - created_at AS life FROM sessions WHERE user_id IS NOT NULL').get() as { life: number };
    expect(row.life).to.equal(app.ctx.config.session.remember_me);
  });

  it('without "keep me signed in" the cookie ends with the browser and the session after 24h', async () => {
    const res = await new Browser(app.url).login('alice', GOOD_PASSWORD);
    const cookie = res.setCookies.find((c) => c.startsWith('gatehouse='));
    expect(cookie).not.to.match(/Expires=/);
    const row = app.ctx.db.prepare('SELECT absolute_expires_at - created_at AS life, idle_timeout_ms FROM sessions WHERE user_id IS NOT NULL').get() as {
      life: number;
      idle_timeout_ms: number;
    };
    expect(row).to.deep.equal({ life: 86_400_000, idle_timeout_ms: 3_600_000 });
  });

  it('answers 503 and stays up when the audit write fails (database locked) during sign-in', async () => {
    const audit = app.ctx.audit;
    const original = audit.loginFailed.bind(audit);
    audit.loginFailed = () => {
      throw Object.assign(new Error('database is locked'), { name: 'SqliteError', code: 'SQLITE_BUSY' });
    };
    try {
      const res = await new Browser(app.url).login('alice', 'not the right password at all');
      expect(res.status).to.equal(503);
    } finally {
      audit.loginFailed = original;
    }
    expect((await new Browser(app.url).get('/healthz')).status).to.equal(200);
  });

  it('shows a fresh form, not an error page, when the sign-in form has expired', async () => {
    const b = new Browser(app.url);
    const stale = await b.csrf('/login');
    b.cookies.clear(); // the form's cookie is gone (expired) by the time the form is sent
    const res = await b.post('/login', { _csrf: stale, username: 'alice', password: GOOD_PASSWORD });
    expect(res.status).to.equal(403);
    expect(res.text).to.contain('form had expired').and.match(/name="_csrf" value="[^"]+"/);
    const fresh = /name="_csrf" value="([^"]+)"/.exec(res.text)?.[1] as string;
    expect((await b.post('/login', { _csrf: fresh, username: 'alice', password: GOOD_PASSWORD })).status).to.equal(303);
  });

  it('shows only its own notices (no inherited object properties)', async () => {
    for (const notice of ['constructor', '__proto__', 'toString']) {
      const page = await new Browser(app.url).get(`/login?notice=${notice}`);
      expect(page.status).to.equal(200);
      expect(page.text).not.to.match(/native code|\[object Object\]/);
    }
  });

  describe('logout', () => {
    it('ends the session server-side: replaying the cookie gets nothing', async () => {
      const b = new Browser(app.url);
      await b.login('alice', GOOD_PASSWORD);
      const stolen = b.cookies.get('gatehouse') as string;
      const res = await b.logout();
      expect(res.status).to.equal(303);
      expect(res.location).to.equal('/login?notice=signed_out');
      expect(res.setCookies.join()).to.match(/gatehouse=;.*Expires=Thu, 01 Jan 1970/);

      const replay = new Browser(app.url);
      replay.cookies.set('gatehouse', stolen);
      const again = await replay.get('/');
      expect(again.status).to.equal(303);
      expect(again.location).to.equal('/login');
      const ended = sessionRows(app).find((r) => r.user_id !== null);
      expect(ended?.delete_reason).to.equal('logout');
      expect(recentAudit(app.ctx, 10).map((e) => e.event)).to.include('logout');
    });

    it('needs the CSRF token: without it nothing changes', async () => {
      const b = new Browser(app.url);
      await b.login('alice', GOOD_PASSWORD);
      const res = await b.post('/logout', {});
      expect(res.status).to.equal(403);
      expect((await b.get('/')).status).to.equal(200);
    });

    it('is not done by a GET: that only shows the sign-out button (test/integration/auth/logout-link.test.ts)', async () => {
      const b = new Browser(app.url);
      await b.login('alice', GOOD_PASSWORD);
      expect((await b.get('/logout')).status).to.equal(200);
      expect((await b.get('/')).status).to.equal(200);
    });

    it('without a session just goes to the login page', async () => {
      const res = await new Browser(app.url).post('/logout', {});
      expect(res.status).to.equal(303);
      expect(res.location).to.equal('/login');
    });
  });

  describe('CSRF and cross-site requests on sign-in', () => {
    it('refuses a login without a CSRF token (login CSRF) and creates no signed-in session', async () => {
      const res = await new Browser(app.url).post('/login', { username: 'alice', password: GOOD_PASSWORD });
      expect(res.status).to.equal(403);
      expect(res.text).to.contain('expired');
      expect(sessionRows(app).filter((r) => r.user_id !== null)).to.have.length(0);
    });

    it("refuses another session's CSRF token", async () => {
      const other = new Browser(app.url);
      const token = await other.csrf('/login');
      const b = new Browser(app.url);
      await b.get('/login');
      const res = await b.post('/login', { _csrf: token, username: 'alice', password: GOOD_PASSWORD });
      expect(res.status).to.equal(403);
    });

    it('refuses a cross-site form post by Fetch Metadata and by Origin', async () => {
      const b = new Browser(app.url);
      const token = await b.csrf('/login');
      const form = { _csrf: token, username: 'alice', password: GOOD_PASSWORD };
      expect((await b.post('/login', form, { 'sec-fetch-site': 'cross-site' })).status).to.equal(403);
      expect((await b.post('/login', form, { origin: 'http://evil.example' })).status).to.equal(403);
      expect((await b.post('/login', form, { origin: 'null' })).status).to.equal(403);
      expect((await b.post('/login', form, { origin: app.url, 'sec-fetch-site': 'same-origin' })).status).to.equal(303);
    });
  });

  describe('accounts changed while signed in', () => {
    it("a disabled user's sessions die at once", async () => {
      const b = new Browser(app.url);
      await b.login('alice', GOOD_PASSWORD);
      expect((await b.get('/')).status).to.equal(200);
      const { sessionsRevoked } = app.ctx.accounts.disable('alice', 'test');
      expect(sessionsRevoked).to.equal(1);
      expect((await b.get('/')).status).to.equal(303);
      expect(sessionRows(app).find((r) => r.delete_reason === 'user-disabled')).to.not.equal(undefined);
    });

    it("a deleted user's sessions die and stay dead as tombstones", async () => {
      const b = new Browser(app.url);
      await b.login('alice', GOOD_PASSWORD);
      app.ctx.accounts.delete('alice', 'test');
      expect((await b.get('/')).status).to.equal(303);
      const row = sessionRows(app).find((r) => r.delete_reason === 'user-deleted');
      expect(row).to.include({ user_id: null });
    });

    it('a password change ends every session of that user', async () => {
      const phone = new Browser(app.url);
      const laptop = new Browser(app.url);
      await phone.login('alice', GOOD_PASSWORD);
      await laptop.login('alice', GOOD_PASSWORD);
      await app.ctx.accounts.setPassword('alice', 'a different long passphrase', 'test');
      expect((await phone.get('/')).status).to.equal(303);
      expect((await laptop.get('/')).status).to.equal(303);
      expect((await new Browser(app.url).login('alice', GOOD_PASSWORD)).status).to.equal(401);
      expect((await new Browser(app.url).login('alice', 'a different long passphrase')).status).to.equal(303);
    });
  });
});
