// Forward auth and the session behind it: trusted proxies and the client IP for `networks`
// rules, logout / revoke / disable / expiry ending access at once, the database failing
// (503, never 200), no session created by a check, and touches coalesced on the hot path.

import { expect } from 'chai';
import { Browser } from '../../support/browser.js';
import { FakeClock } from '../../support/clock.js';
import { forward, forwardAuthConfig, HTTPS, rawGet, verify } from '../../support/forward-auth.js';
import { addUser, GOOD_PASSWORD, startApp, type TestApp } from '../../support/harness.js';

const APP = 'https://app.home.example/';
const MINUTE = 60_000;

describe('forward auth: proxies and client IPs', () => {
  let app: TestApp | undefined;
  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  it('refuses every check from a peer that is not a trusted proxy (400), whatever it claims', async () => {
    app = await startApp({ config: forwardAuthConfig({ server: { trusted_proxies: ['10.9.9.9'] } }) });
    const b = new Browser(app.url);
    for (const res of [
      await verify(b, APP),
      await forward(b, APP),
      await verify(b, 'https://public.home.example/'),
      await verify(b, 'https://lan.home.example/', { headers: { 'x-forwarded-for': '192.168.1.5' } }),
    ]) {
      expect(res.status).to.equal(400);
      expect(res.text).to.match(/trusted proxy/);
      expect(res.headers.get('remote-user')).to.equal(null);
    }
  });

  it('a LAN-only rule matches the client IP reported by the trusted proxy', async () => {
    app = await startApp({ config: forwardAuthConfig() });
    const b = new Browser(app.url, HTTPS);
    const lan = 'https://lan.home.example/';
    expect((await verify(b, lan, { headers: { 'x-forwarded-for': '192.168.1.5' } })).status).to.equal(200);
    expect((await verify(b, lan, { headers: { 'x-forwarded-for': 'fd00::1234' } })).status).to.equal(200);
    // Not on the LAN: the catch-all one_factor rule wants a sign-in.
    expect((await verify(b, lan, { headers: { 'x-forwarded-for': '203.0.113.9' } })).status).to.equal(401);
    expect((await verify(b, lan)).status, 'the proxy itself (loopback) is not on the LAN').to.equal(401);
  });

  it('reads X-Forwarded-For from the right: a client-supplied LAN address on the left is ignored', async () => {
    app = await startApp({ config: forwardAuthConfig() });
    const b = new Browser(app.url, HTTPS);
    const res = await verify(b, 'https://lan.home.example/', { headers: { 'x-forwarded-for': '192.168.1.5, 203.0.113.9' } });
    expect(res.status).to.equal(401);
  });

  it('stops at the first untrusted hop: a spoofed address behind it cannot pick the client IP', async () => {
    // Only 127.0.0.1 is a proxy; the hop it reports (127.0.0.2) is the client, not what that client claimed.
    app = await startApp({ config: forwardAuthConfig({ server: { trusted_proxies: ['127.0.0.1'] } }) });
    const b = new Browser(app.url, HTTPS);
    expect((await verify(b, 'https://lan.home.example/', { headers: { 'x-forwarded-for': '192.168.1.5, 127.0.0.2' } })).status).to.equal(401);
    expect((await verify(b, 'https://lan.home.example/', { headers: { 'x-forwarded-for': '192.168.1.5' } })).status).to.equal(200);
  });

  it('a connection from another loopback address that is not a configured proxy is refused', async () => {
    app = await startApp({ config: forwardAuthConfig({ server: { trusted_proxies: ['127.0.0.1'] } }) });
    const headers = { 'x-original-url': 'https://lan.home.example/', 'x-original-method': 'GET', 'x-forwarded-for': '192.168.1.5', 'x-forwarded-proto': 'https' };
    expect((await rawGet(app.url, '/auth/verify', headers, '127.0.0.2')).status).to.equal(400);
    expect((await rawGet(app.url, '/auth/verify', headers, '127.0.0.1')).status).to.equal(200);
  });
});

describe('forward auth: the session ends, access ends', () => {
  let app: TestApp;
  let b: Browser;

  async function signIn(username = 'alice'): Promise<Browser> {
    const browser = new Browser(app.url, HTTPS);
    expect((await browser.login(username, GOOD_PASSWORD)).status).to.equal(303);
    expect((await verify(browser, APP)).status).to.equal(200);
    return browser;
  }

  describe('with the real clock', () => {
    beforeEach(async () => {
      app = await startApp({ config: forwardAuthConfig() });
      await addUser(app.ctx, 'alice', { groups: ['family'] });
      b = await signIn();
    });
    afterEach(() => app.close());

    it('after logout, the old cookie gets 401 on both endpoints', async () => {
      const cookie = b.cookieHeader();
      expect((await b.logout()).status).to.equal(303);
      expect((await verify(b, APP, { headers: { cookie } })).status).to.equal(401);
      expect((await forward(b, APP, { headers: { cookie } })).status).to.equal(401);
    });

    it('after an admin revokes the user’s sessions: 401', async () => {
      const user = app.ctx.users.findByUsername('alice');
      expect(app.ctx.sessions.revokeUserSessions(user?.id as number, 'revoked', { by: 'test' })).to.equal(1);
      expect((await verify(b, APP)).status).to.equal(401);
    });

    it('after the user is disabled: 401', async () => {
      app.ctx.accounts.disable('alice', 'test');
      expect((await verify(b, APP)).status).to.equal(401);
    });

    it('a disabled user is refused even while the session row is still live', async () => {
      const user = app.ctx.users.findByUsername('alice');
      app.ctx.users.setDisabled(user?.id as number, true, Date.now());
      expect((await verify(b, APP)).status).to.equal(401);
      app.ctx.users.setDisabled(user?.id as number, false, Date.now());
      expect((await verify(b, APP)).status).to.equal(200);
    });

    it('after the user is deleted: 401', async () => {
      app.ctx.accounts.delete('alice', 'test');
      expect((await verify(b, APP)).status).to.equal(401);
    });

    it('a database failure answers 503, never 200', async () => {
      app.ctx.db.close();
      for (const res of [await verify(b, APP), await forward(b, APP), await verify(b, APP, { as: 'HEAD' })]) {
        expect(res.status).to.equal(503);
        expect(res.headers.get('retry-after')).to.equal('5');
        expect(res.headers.get('remote-user')).to.equal(null);
      }
      // Anonymous checks need no database and still refuse.
      expect((await verify(new Browser(app.url, HTTPS), APP)).status).to.equal(401);
    });

    it('a check creates no session row and sets no cookie, signed in or not', async () => {
      const count = () => app.ctx.db.prepare('SELECT count(*) FROM sessions').pluck().get() as number;
      const before = count();
      const anonymous = new Browser(app.url, HTTPS);
      const replies = [
        await verify(anonymous, APP),
        await forward(anonymous, APP, { headers: { accept: 'text/html' } }),
        await verify(anonymous, 'https://public.home.example/'),
        await verify(anonymous, 'ftp://bad/'),
        await verify(b, APP),
        await forward(b, APP),
      ];
      for (const res of replies) expect(res.setCookies, `status ${res.status}`).to.deep.equal([]);
      expect(anonymous.cookies.size).to.equal(0);
      expect(count()).to.equal(before);
    });
  });

  describe('with a fake clock', () => {
    let clock: FakeClock;
    beforeEach(async () => {
      clock = new FakeClock();
      app = await startApp({ clock, config: forwardAuthConfig({ session: { cookie_domain: 'home.example', inactivity: '1h', touch_interval: '1m' } }) });
      await addUser(app.ctx, 'alice', { groups: ['family'] });
      b = await signIn();
    });
    afterEach(() => app.close());

    const lastSeen = () => app.ctx.db.prepare('SELECT last_seen_at FROM sessions WHERE user_id IS NOT NULL AND deleted_at IS NULL').pluck().get() as number | undefined;

    it('an idle session expires: 401 after the inactivity timeout, and the row is ended as expired', async () => {
      clock.advance(60 * MINUTE + 1);
      expect((await verify(b, APP)).status).to.equal(401);
      const row = app.ctx.db.prepare('SELECT delete_reason FROM sessions WHERE user_id IS NOT NULL').get() as { delete_reason: string | null };
      expect(row.delete_reason).to.equal('expired');
      // And it stays dead when the clock is wound back (the row says so, not the memory).
      clock.advance(-30 * MINUTE);
      expect((await verify(b, APP)).status).to.equal(401);
    });

    it('forward-auth use keeps a session alive past the idle timeout counted from sign-in', async () => {
      for (let i = 0; i < 4; i += 1) {
        clock.advance(40 * MINUTE);
        expect((await verify(b, APP)).status, `after ${(i + 1) * 40} minutes`).to.equal(200);
      }
    });

    it('still ends at the absolute expiration however busy it is', async () => {
      for (let elapsed = 0; elapsed < 24 * 60; elapsed += 50) {
        clock.advance(50 * MINUTE);
        const res = await verify(b, APP);
        if (elapsed + 50 >= 24 * 60) expect(res.status).to.equal(401);
        else expect(res.status, `after ${elapsed + 50} minutes`).to.equal(200);
      }
    });

    it('coalesces touches: many checks write last_seen_at at most once per touch_interval', async () => {
      const signedInAt = clock.now();
      expect(lastSeen()).to.equal(signedInAt);
      app.ctx.db.exec(`
        CREATE TEMP TABLE touch_writes (n INTEGER NOT NULL);
        INSERT INTO touch_writes VALUES (0);
        CREATE TEMP TRIGGER count_touch_writes AFTER UPDATE OF last_seen_at ON sessions
        BEGIN UPDATE touch_writes SET n = n + 1; END;`);
      const writes = () => app.ctx.db.prepare('SELECT n FROM touch_writes').pluck().get() as number;

      // 50 checks within the first interval: remembered in memory, nothing written.
      for (let i = 0; i < 50; i += 1) {
        clock.advance(1000);
        expect((await verify(b, APP)).status).to.equal(200);
      }
      expect(lastSeen()).to.equal(signedInAt);
      expect(writes()).to.equal(0);

      // Past the interval: the next check writes once, the following ones again not.
      clock.advance(11_000);
      expect((await verify(b, APP)).status).to.equal(200);
      expect(writes()).to.equal(1);
      expect(lastSeen()).to.equal(clock.now());
      const written = clock.now();
      for (let i = 0; i < 30; i += 1) {
        clock.advance(1000);
        await forward(b, APP);
      }
      expect(writes()).to.equal(1);
      expect(lastSeen()).to.equal(written);

      // Ten minutes of one check a second: about one write a minute, never more.
      for (let i = 0; i < 600; i += 1) {
        clock.advance(1000);
        await verify(b, APP);
      }
      expect(writes()).to.be.at.most(11).and.at.least(9);
    });
  });
});

describe('forward auth: per-client budget', () => {
  let app: TestApp | undefined;
  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  it('answers 429 with Retry-After past rate_limit.forward_auth_max for one client, others unaffected', async () => {
    app = await startApp({ config: forwardAuthConfig({ rate_limit: { forward_auth_max: 3, window: '1m' } }) });
    const one = new Browser(app.url, { 'x-forwarded-for': '198.51.100.7' });
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await verify(one, 'https://public.home.example/')).status);
    expect(statuses).to.deep.equal([200, 200, 200, 429]);
    const refused = await verify(one, 'https://public.home.example/');
    expect(Number(refused.headers.get('retry-after'))).to.be.within(1, 60);
    expect((await verify(new Browser(app.url, { 'x-forwarded-for': '198.51.100.8' }), 'https://public.home.example/')).status).to.equal(200);
  });

  it('answers 400 when the trusted proxy sends an X-Forwarded-For that does not end in an IP address', async () => {
    app = await startApp({ config: forwardAuthConfig() });
    const res = await verify(new Browser(app.url, { 'x-forwarded-for': '198.51.100.7, not-an-ip' }), 'https://public.home.example/');
    expect(res.status).to.equal(400);
    expect(res.text).to.contain('X-Forwarded-For');
  });
});
