// The admin sessions, audit log and bans pages: revoking anyone's session (dead at once),
// the ended-session history, audit filters and paging, CSV export, and lifting bans.

import { expect } from 'chai';
import { Browser } from '../../support/browser.js';
import { flashes, GOOD_PASSWORD, liveSessionsOf, signIn, startAdminApp, submit, type AdminApp } from './admin-support.js';
import { recentAudit } from '../../support/audit.js';

describe('admin: sessions', () => {
  let app: AdminApp;
  let admin: Browser;
  beforeEach(async () => {
    app = await startAdminApp();
    admin = await signIn(app, 'root');
  });
  afterEach(() => app.close());

  const handlesOf = (name: string) => app.ctx.sessions.list({ userId: app.ctx.users.findByUsername(name)!.id }).map((s) => s.handle);

  it('lists every user\'s live sessions with device and address, and filters by user', async () => {
    await signIn(app, 'alice', GOOD_PASSWORD, { 'user-agent': 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0' });
    const all = await admin.get('/admin/sessions');
    expect(all.status).to.equal(200);
    expect(all.text).to.contain('Firefox 128 on Linux').and.contain('>alice</a>').and.contain('>root</a>').and.contain('this session');
    expect(all.text).to.contain('127.0.0.1');
    const filtered = await admin.get('/admin/sessions?user=ALICE');
    expect(filtered.text).to.contain('>alice</a>').and.not.contain('>root</a>');
    expect(filtered.text).to.contain('value="alice"');
    const unknown = await admin.get('/admin/sessions?user=nobody');
    expect(unknown.status).to.equal(200);
    expect(unknown.text).to.contain('There is no user named &quot;nobody&quot;.');
  });

  it('ends another user\'s session: that cookie is dead at once, and the history shows why', async () => {
    const alice = await signIn(app, 'alice');
    const [handle] = handlesOf('alice');
    const res = await submit(admin, '/admin/sessions?user=alice', `/admin/sessions/${handle}/revoke`, { return_to: '/admin/sessions?user=alice' });
    expect(res.status).to.equal(303);
    expect(res.location).to.equal('/admin/sessions?user=alice');
    expect(flashes(await admin.get(res.location as string))).to.deep.equal([`Session ${handle} of alice was ended.`]);
    expect((await alice.get('/')).location).to.equal('/login');
    expect(liveSessionsOf(app, 'alice')).to.equal(0);
    const revoked = recentAudit(app.ctx, 5).find((e) => e.event === 'session-revoked');
    expect(revoked?.details).to.include({ session: handle, reason: 'revoked', by: 'admin:root' });

    const history = await admin.get('/admin/sessions?state=ended&user=alice');
    expect(history.text).to.contain(handle as string).and.contain('<code>revoked</code>');
    expect((await admin.get('/admin/sessions?user=alice')).text).to.contain('No live sessions for alice');
  });

  it('sends the administrator to sign in when they end their own current session', async () => {
    const [own] = handlesOf('root');
    const res = await submit(admin, '/admin/sessions', `/admin/sessions/${own}/revoke`);
    expect(res.status).to.equal(303);
    expect(res.location).to.equal('/login');
    expect((await admin.get('/admin')).location).to.equal('/login');
  });

  it('answers 404 for sessions that are not live, and for malformed handles', async () => {
    const alice = await signIn(app, 'alice');
    const [handle] = handlesOf('alice');
    await alice.logout();
    for (const h of [handle, '000000000000', 'zzzzzzzzzzzz', 'abc', 'a'.repeat(64)]) {
      const res = await submit(admin, '/admin/sessions', `/admin/sessions/${h}/revoke`);
      expect(res.status, h).to.equal(404);
    }
  });

  it('only returns to admin pages after ending a session', async () => {
    await signIn(app, 'alice');
    const [handle] = handlesOf('alice');
    const res = await submit(admin, '/admin/sessions', `/admin/sessions/${handle}/revoke`, { return_to: '//evil.example/' });
    expect(res.location).to.equal('/admin/sessions');
  });
});

describe('admin: audit log', () => {
  let app: AdminApp;
  let admin: Browser;
  before(async () => {
    app = await startAdminApp();
    // Entries at known times: 60 failed sign-ins one minute apart from two addresses.
    const start = app.clock.now();
    for (let i = 0; i < 60; i += 1) {
      app.ctx.audit.loginFailed({ username: i % 2 ? 'alice' : 'mallory', ip: i % 3 ? '192.0.2.10' : '198.51.100.20', reason: 'bad-credentials' });
      app.clock.advance(60_000);
    }
    void start;
    admin = await signIn(app, 'root');
  });
  after(() => app.close());

  const rows = (text: string) => [...text.matchAll(/<tr>\s*<td data-label="Time">/g)].length;

  it('pages 50 entries at a time, newest first, with an Older link', async () => {
    const first = await admin.get('/admin/audit');
    expect(first.status).to.equal(200);
    expect(rows(first.text)).to.equal(50);
    const older = /href="(\/admin\/audit\?before=\d+)" rel="next"/.exec(first.text)?.[1] as string;
    expect(older).to.be.a('string');
    const second = await admin.get(older.replace(/&amp;/g, '&'));
    expect(rows(second.text)).to.be.greaterThan(0);
    expect(second.text).to.contain('>Newest</a>');
    const total = app.ctx.db.prepare('SELECT count(*) FROM audit_log').pluck().get() as number;
    expect(rows(first.text) + rows(second.text)).to.equal(Math.min(total, 100));
  });

  it('filters by event, user, address and time range', async () => {
    const byEvent = await admin.get('/admin/audit?event=login-failed');
    expect(rows(byEvent.text)).to.equal(50);
    expect(byEvent.text).not.to.match(/[a-z] signed in \(session/);
    expect(byEvent.text).to.contain('Sign-in failed for alice: wrong username or password.');
    expect(byEvent.text).to.contain('<option value="login-failed" selected>');

    const byUser = await admin.get('/admin/audit?event=login-failed&user=alice');
    expect(rows(byUser.text)).to.equal(30);
    expect(byUser.text).not.to.contain('mallory');

    const byDeletedName = await admin.get('/admin/audit?user=mallory');
    expect(rows(byDeletedName.text)).to.equal(30);

    const byIp = await admin.get('/admin/audit?ip=198.51.100.20');
    expect(rows(byIp.text)).to.equal(20);

    // 2026-01-01 12:00 UTC is the first entry; minutes 10 to 19 inclusive are ten entries.
    const byTime = await admin.get('/admin/audit?event=login-failed&from=2026-01-01T12:10&to=2026-01-01T12:19');
    expect(rows(byTime.text)).to.equal(10);
    const byDay = await admin.get('/admin/audit?event=login-failed&from=2026-01-01&to=2026-01-01');
    expect(rows(byDay.text)).to.equal(50);
    const none = await admin.get('/admin/audit?from=2026-01-02');
    expect(none.text).to.contain('No entries match these filters.');
  });

  it('keeps the filters in the Older link', async () => {
    const page = await admin.get('/admin/audit?event=login-failed');
    const older = (/href="([^"]+)" rel="next"/.exec(page.text)?.[1] as string).replace(/&amp;/g, '&');
    expect(older).to.match(/^\/admin\/audit\?event=login-failed&before=\d+$/);
    const next = await admin.get(older);
    expect(rows(next.text)).to.equal(10);
    expect(next.text).not.to.contain('rel="next"');
  });

  it('refuses garbage filters with 400 and a clear message', async () => {
    const cases: Array<[string, RegExp]> = [
      ['from=yesterday', /from must be a date/],
      ['to=2026-02-30', /to must be a date/],
      ['from=2026-01-01T25:00', /from must be a date/],
      ['from=2026-01-02&to=2026-01-01', /earlier than/],
      ['ip=not-an-ip', /ip must be an IPv4 or IPv6 address/],
      ['event=%3Cscript%3E', /event must be an event name/],
      ['event=a&event=b', /event must be a single text value/],
      ['user=%00root', /user contains control/],
      ['before=-1', /before must be an entry number/],
      [`user=${'a'.repeat(300)}`, /user is too long/],
    ];
    for (const [query, message] of cases) {
      const res = await admin.get(`/admin/audit?${query}`);
      expect(res.status, query).to.equal(400);
      expect(res.text, query).to.match(message);
      expect((await admin.get(`/admin/audit.csv?${query}`)).status, `csv ${query}`).to.equal(400);
    }
  });

  it('exports the filtered log as a CSV attachment, with spreadsheet formulas neutralised', async () => {
    // The sign-in form never records an impossible username, but the audit table takes any
    // name (CLI, older rows): the export must still be safe to open in a spreadsheet.
    app.ctx.audit.loginFailed({ username: '=cmd()', ip: '192.0.2.66', reason: 'bad-credentials' });
    app.ctx.audit.loginFailed({ username: '@SUM(1+1)', ip: '192.0.2.66', reason: 'bad-credentials' });
    const csv = await admin.get('/admin/audit.csv?event=login-failed');
    expect(csv.status).to.equal(200);
    expect(csv.headers.get('content-type')).to.match(/^text\/csv/);
    expect(csv.headers.get('content-disposition')).to.match(/^attachment; filename="gatehouse-audit-\d{4}-\d{2}-\d{2}\.csv"$/);
    expect(csv.headers.get('cache-control')).to.contain('no-store');
    const lines = csv.text.trim().split('\n');
    expect(lines[0]).to.equal('id,time,event,user_id,username,ip,details,count,last_time');
    expect(lines.length).to.be.greaterThan(60);
    expect(lines.slice(1).every((l) => l.includes(',login-failed,'))).to.equal(true);
    expect(csv.text).to.contain("'=cmd()");
    expect(csv.text).to.contain("'@SUM(1+1)");
    expect(csv.text).not.to.match(/(^|,)[=@]/m);
    const page = await admin.get('/admin/audit?ip=192.0.2.66');
    expect(page.text).to.contain('=cmd()').and.contain('href="/admin/audit.csv?ip=192.0.2.66"');
    const filtered = await admin.get('/admin/audit.csv?ip=198.51.100.20');
    expect(filtered.text.trim().split('\n').length).to.equal(21);
  });
});

describe('admin: bans', () => {
  let app: AdminApp;
  let admin: Browser;
  beforeEach(async () => {
    app = await startAdminApp({ throttle: { backoff_after: 20, max_failures_per_user: 3 } });
    admin = await signIn(app, 'root');
  });
  afterEach(() => app.close());

  it('shows a lock caused by failed sign-ins, and lifting it lets the user in again', async () => {
    const attacker = new Browser(app.url, { 'user-agent': 'attacker' });
    for (let i = 0; i < 3; i += 1) await attacker.login('alice', `wrong password attempt ${i}`);
    const bans = app.ctx.regulator.listBans();
    expect(bans.length).to.be.greaterThan(0);
    const page = await admin.get('/admin/bans');
    expect(page.status).to.equal(200);
    expect(page.text).to.contain('failures').and.contain('alice');
    expect(page.text).to.contain('name="target" value="alice"');

    const res = await submit(admin, '/admin/bans', '/admin/bans/lift', { target: 'alice' });
    expect(res.status).to.equal(303);
    expect(res.location).to.equal('/admin/bans');
    expect(flashes(await admin.get('/admin/bans'))[0]).to.match(/^Lifted \d+ ban\(s\) for alice/);
    expect(app.ctx.regulator.listBans().filter((b) => b.username === 'alice')).to.deep.equal([]);
    expect(recentAudit(app.ctx, 5).find((e) => e.event === 'ban-lifted')?.details.by).to.equal('admin:root');
    expect((await admin.get('/admin/bans')).text).to.contain('No active bans.');
  });

  it('lifts an address ban and says when there was nothing to lift', async () => {
    for (let i = 0; i < 25; i += 1) {
      const v = app.ctx.regulator.check('203.0.113.9', `sprayed${i}`);
      if (v.allowed) v.attempt.failed();
    }
    expect(app.ctx.regulator.listBans().some((b) => b.ip === '203.0.113.9')).to.equal(true);
    await submit(admin, '/admin/bans', '/admin/bans/lift', { target: '203.0.113.9' });
    expect(app.ctx.regulator.listBans().some((b) => b.ip === '203.0.113.9')).to.equal(false);
    await submit(admin, '/admin/bans', '/admin/bans/lift', { target: '192.0.2.77' });
    expect(flashes(await admin.get('/admin/bans'))[0]).to.equal('There was no active ban for 192.0.2.77; its failure counters were cleared.');
  });

  it('refuses a target that is neither an address nor a username with 400', async () => {
    for (const target of ['not a target!', '', '   ']) {
      const res = await submit(admin, '/admin/bans', '/admin/bans/lift', { target });
      expect(res.status, JSON.stringify(target)).to.equal(400);
      expect(res.text).to.contain('neither an IP address nor a username');
    }
  });
});
