// First run: no default account; a random, single-use, expiring link creates the first
// administrator in the browser.

import { expect } from 'chai';
import { Browser } from '../../support/browser.js';
import { FakeClock } from '../../support/clock.js';
import { GOOD_PASSWORD, startApp, type TestApp } from '../../support/harness.js';
import { recentAudit } from '../../support/audit.js';

describe('first-run setup', () => {
  let app: TestApp;
  let clock: FakeClock;
  let token: string;
  beforeEach(async () => {
    clock = new FakeClock(Date.now());
    // Several wrong sign-ins from one address in a row would meet the login backoff;
    // throttling has its own tests (test/integration/throttle).
    app = await startApp({ clock, config: { throttle: { backoff_after: 10 } } });
    token = (app.ctx.setup.issueIfNeeded() as { token: string }).token;
  });
  afterEach(() => app.close());

  async function submit(b: Browser, fields: Record<string, string>) {
    const csrf = await b.csrf(`/setup?token=${token}`);
    return b.post('/setup', { _csrf: csrf, token, username: 'root-admin', display_name: 'Pat', password: GOOD_PASSWORD, password_confirm: GOOD_PASSWORD, ...fields });
  }

  it('has no account at all before setup: admin/admin and friends do not exist', async () => {
    expect(app.ctx.users.count()).to.equal(0);
    for (const [u, p] of [['admin', 'admin'], ['admin', 'password'], ['root', 'root'], ['gatehouse', 'gatehouse']]) {
      expect((await new Browser(app.url).login(u as string, p as string)).status).to.equal(401);
    }
  });

  it('creates the first administrator, who can then sign in', async () => {
    const b = new Browser(app.url);
    const page = await b.get(`/setup?token=${token}`);
    expect(page.status).to.equal(200);
    expect(page.text).to.match(/autocomplete="new-password"/);
    const res = await submit(b, {});
    expect(res.status).to.equal(303);
    expect(res.location).to.equal('/login?notice=setup');
    const user = app.ctx.users.findByUsername('root-admin');
    expect(user?.groups).to.deep.equal(['admins']);
    expect(user?.displayName).to.equal('Pat');
    const signIn = new Browser(app.url);
    expect((await signIn.login('root-admin', GOOD_PASSWORD)).status).to.equal(303);
    expect((await signIn.get('/')).text).to.contain('Administrator');
    expect(recentAudit(app.ctx, 10).map((e) => e.event)).to.include('setup-completed');
  });

  it('works once: the link is dead after use', async () => {
    await submit(new Browser(app.url), {});
    const again = new Browser(app.url);
    const page = await again.get(`/setup?token=${token}`);
    expect(page.status).to.equal(410);
    expect(app.ctx.users.count()).to.equal(1);
  });

  it('lets only one of two racing submissions create an administrator', async () => {
    const a = new Browser(app.url);
    const b = new Browser(app.url);
    const [ta, tb] = [await a.csrf(`/setup?token=${token}`), await b.csrf(`/setup?token=${token}`)];
    const form = { token, password: GOOD_PASSWORD, password_confirm: GOOD_PASSWORD };
    const results = await Promise.all([
      a.post('/setup', { ...form, _csrf: ta, username: 'first' }),
      b.post('/setup', { ...form, _csrf: tb, username: 'second' }),
    ]);
    expect(results.map((r) => r.status).sort()).to.deep.equal([303, 403]);
    expect(app.ctx.users.count()).to.equal(1);
  });

  it('refuses a wrong token and an expired one', async () => {
    expect((await new Browser(app.url).get('/setup?token=not-the-right-token-at-all')).status).to.equal(403);
    expect((await new Browser(app.url).get('/setup')).status).to.equal(403);
    clock.advance(60 * 60 * 1000 + 1);
    const page = await new Browser(app.url).get(`/setup?token=${token}`);
    expect(page.status).to.equal(403);
    expect(page.text).to.contain('expired');
  });

  it('a newer link replaces an older unused one', async () => {
    const old = token;
    token = (app.ctx.setup.issueIfNeeded() as { token: string }).token;
    expect((await new Browser(app.url).get(`/setup?token=${old}`)).status).to.equal(403);
    expect((await new Browser(app.url).get(`/setup?token=${token}`)).status).to.equal(200);
  });

  it('applies the password policy and keeps what was typed', async () => {
    const b = new Browser(app.url);
    const short = await submit(b, { password: 'too short pw', password_confirm: 'too short pw' });
    expect(short.status).to.equal(400);
    expect(short.text).to.contain('at least 15 characters');
    expect(short.text).to.contain('value="root-admin"');
    const mismatch = await submit(b, { password_confirm: 'something else entirely' });
    expect(mismatch.status).to.equal(400);
    expect(mismatch.text).to.contain('do not match');
    const common = await submit(b, { password: 'passwordpassword', password_confirm: 'passwordpassword' });
    expect(common.status).to.equal(400);
    expect(app.ctx.users.count()).to.equal(0);
  });

  it('needs the CSRF token', async () => {
    const b = new Browser(app.url);
    await b.get(`/setup?token=${token}`);
    const res = await b.post('/setup', { token, username: 'x', password: GOOD_PASSWORD, password_confirm: GOOD_PASSWORD });
    expect(res.status).to.equal(403);
    expect(app.ctx.users.count()).to.equal(0);
  });
});
