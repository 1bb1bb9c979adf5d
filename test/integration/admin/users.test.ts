// User administration through the real app: add (and the new user signs in), edit profile
// and groups, reset password, disable/enable, delete, deletion requests, the last-admin
// rule, and form errors that keep what was typed.

import { expect } from 'chai';
import { Browser } from '../../support/browser.js';
import { flashes, GOOD_PASSWORD, liveSessionsOf, OTHER_PASSWORD, signIn, snapshot, startAdminApp, submit, type AdminApp } from './admin-support.js';
import { recentAudit } from '../../support/audit.js';

describe('admin: users', () => {
  let app: AdminApp;
  let admin: Browser;
  beforeEach(async () => {
    app = await startAdminApp();
    admin = await signIn(app, 'root');
  });
  afterEach(() => app.close());

  it('lists users with their groups, state, last sign-in and live sessions', async () => {
    await signIn(app, 'alice');
    app.ctx.accounts.disable('ops', 'test');
    const page = await admin.get('/admin/users');
    expect(page.status).to.equal(200);
    const row = (name: string) => page.text.slice(page.text.indexOf(`>${name}</a></td>`)).split('</tr>')[0] as string;
    expect(row('alice')).to.contain('family').and.contain('<td data-label="Live sessions"><a href="/admin/sessions?user=alice">1</a>');
    expect(row('ops')).to.contain('disabled');
    expect(row('root')).to.contain('admins').and.not.contain('never');
    expect(page.text).to.contain('href="/admin/users/new"');
  });

  it('adds a user who can then sign in', async () => {
    const form = await admin.get('/admin/users/new');
    expect(form.text).to.match(/<input[^>]+name="password"[^>]+autocomplete="new-password"[^>]*data-strength-meter/);
    expect(form.text).to.contain('<script src="/password-meter.js" defer></script>');
    const res = await submit(admin, '/admin/users/new', '/admin/users', {
      username: 'Bob',
      display_name: 'Bob Builder',
      email: 'bob@example.org',
      groups: ['family'],
      groups_other: 'media, cameras',
      password: OTHER_PASSWORD,
      password_confirm: OTHER_PASSWORD,
    });
    expect(res.status).to.equal(303);
    expect(res.location).to.equal('/admin/users/bob');
    expect(flashes(await admin.get('/admin/users/bob'))).to.deep.equal(['User bob was added. They can sign in with the password you chose.']);
    const bob = app.ctx.users.findByUsername('bob');
    expect(bob).to.include({ displayName: 'Bob Builder', email: 'bob@example.org', mustChangePassword: false });
    expect(bob?.groups).to.deep.equal(['cameras', 'family', 'media']);
    const created = recentAudit(app.ctx, 5).find((e) => e.event === 'user-created');
    expect(created?.details.by).to.equal('admin:root');

    const b = new Browser(app.url);
    const login = await b.login('bob', OTHER_PASSWORD);
    expect(login.status).to.equal(303);
    expect(login.location).to.equal('/');
  });

  it('re-renders the add form with the error and what was typed, never the password', async () => {
    const cases: Array<[Record<string, string | string[]>, number, RegExp]> = [
      [{ username: 'alice', password: OTHER_PASSWORD, password_confirm: OTHER_PASSWORD }, 409, /already exists/],
      [{ username: 'bob', password: 'short', password_confirm: 'short' }, 400, /at least 15 characters|too short/i],
      [{ username: 'bob', password: OTHER_PASSWORD, password_confirm: `${OTHER_PASSWORD}!` }, 400, /do not match/],
      [{ username: 'bo b!', password: OTHER_PASSWORD, password_confirm: OTHER_PASSWORD }, 400, /Usernames are/],
      [{ username: 'bob', groups_other: 'Bad Group!', password: OTHER_PASSWORD, password_confirm: OTHER_PASSWORD }, 400, /invalid group name/],
      [{ username: 'bob', email: 'not-an-email', password: OTHER_PASSWORD, password_confirm: OTHER_PASSWORD }, 400, /email address/],
    ];
    for (const [fields, status, message] of cases) {
      const before = snapshot(app);
      const res = await submit(admin, '/admin/users/new', '/admin/users', { display_name: 'Typed Name', ...fields });
      expect(res.status, JSON.stringify(fields)).to.equal(status);
      expect(res.text, JSON.stringify(fields)).to.match(message);
      expect(res.text).to.contain('value="Typed Name"');
      expect(res.text).not.to.contain(OTHER_PASSWORD);
      expect(snapshot(app)).to.equal(before);
    }
  });

  it('edits display name, email and groups', async () => {
    const res = await submit(admin, '/admin/users/alice', '/admin/users/alice', { display_name: 'Alice Liddell', email: 'alice@example.org', groups: ['family'], groups_other: 'media' });
    expect(res.status).to.equal(303);
    expect(res.location).to.equal('/admin/users/alice');
    const alice = app.ctx.users.findByUsername('alice');
    expect(alice).to.include({ displayName: 'Alice Liddell', email: 'alice@example.org' });
    expect(alice?.groups).to.deep.equal(['family', 'media']);
    const page = await admin.get('/admin/users/alice');
    expect(flashes(page)).to.deep.equal(['Saved the changes to alice.']);
    expect(page.text).to.match(/value="media" checked/);
    // Unchecking every box and leaving the text empty removes all groups.
    await submit(admin, '/admin/users/alice', '/admin/users/alice', { display_name: 'Alice Liddell', email: '' });
    expect(app.ctx.users.findByUsername('alice')?.groups).to.deep.equal([]);
    expect(app.ctx.users.findByUsername('alice')?.email).to.equal(null);
  });

  it('refuses invalid groups with 400 and the message, keeping the typed values', async () => {
    for (const bad of ['has space!', 'UPPER_but_ok x/y', 'a'.repeat(33), '-leading']) {
      const before = snapshot(app);
      const res = await submit(admin, '/admin/users/alice', '/admin/users/alice', { display_name: 'Kept Name', email: '', groups_other: bad });
      expect(res.status, bad).to.equal(400);
      expect(res.text, bad).to.contain('invalid group name');
      expect(res.text).to.contain('value="Kept Name"');
      expect(snapshot(app)).to.equal(before);
    }
  });

  it('resets a password: all the user\'s sessions end and they must choose a new one at next sign-in', async () => {
    const alice1 = await signIn(app, 'alice');
    const alice2 = await signIn(app, 'alice');
    const res = await submit(admin, '/admin/users/alice', '/admin/users/alice/password', { password: OTHER_PASSWORD, password_confirm: OTHER_PASSWORD });
    expect(res.status).to.equal(303);
    expect(flashes(await admin.get('/admin/users/alice'))[0]).to.match(/reset; 2 session\(s\) ended/);
    expect(liveSessionsOf(app, 'alice')).to.equal(0);
    expect((await alice1.get('/')).location).to.equal('/login');
    expect((await alice2.get('/')).location).to.equal('/login');
    expect(recentAudit(app.ctx, 10).find((e) => e.event === 'password-reset')?.details.by).to.equal('admin:root');

    const fresh = new Browser(app.url);
    expect((await fresh.login('alice', GOOD_PASSWORD)).status).to.equal(401);
    const login = await fresh.login('alice', OTHER_PASSWORD);
    expect(login.status).to.equal(303);
    expect(login.location).to.equal('/account/password');
    expect((await fresh.get('/')).location).to.equal('/account/password');
  });

  it('asks for the reset password twice: different or missing confirmations are 400 and change nothing', async () => {
    const page = await admin.get('/admin/users/alice');
    expect(page.text).to.match(/<input id="password_confirm" name="password_confirm" type="password" autocomplete="new-password" required/);
    const before = snapshot(app);
    const typo = await submit(admin, '/admin/users/alice', '/admin/users/alice/password', { password: OTHER_PASSWORD, password_confirm: `${OTHER_PASSWORD}s` });
    expect(typo.status).to.equal(400);
    expect(typo.text).to.contain('The two passwords do not match.');
    const missing = await submit(admin, '/admin/users/alice', '/admin/users/alice/password', { password: OTHER_PASSWORD });
    expect(missing.status).to.equal(400);
    expect(snapshot(app)).to.equal(before);
  });

  it('refuses a weak reset password with 400 and changes nothing', async () => {
    const before = snapshot(app);
    const res = await submit(admin, '/admin/users/alice', '/admin/users/alice/password', { password: 'password123', password_confirm: 'password123' });
    expect(res.status).to.equal(400);
    expect(res.text).to.match(/<p class="error" role="alert">[^<]+<\/p>/);
    expect(snapshot(app)).to.equal(before);
  });

  it('disables a user: their sessions end and they cannot sign in; enabling lets them back', async () => {
    const alice = await signIn(app, 'alice');
    const res = await submit(admin, '/admin/users/alice', '/admin/users/alice/disable');
    expect(res.status).to.equal(303);
    expect(liveSessionsOf(app, 'alice')).to.equal(0);
    expect((await alice.get('/')).location).to.equal('/login');
    expect((await new Browser(app.url).login('alice', GOOD_PASSWORD)).status).to.equal(401);
    expect((await admin.get('/admin/users/alice')).text).to.contain('Enable alice');

    const enabled = await submit(admin, '/admin/users/alice', '/admin/users/alice/enable');
    expect(enabled.status).to.equal(303);
    expect(app.ctx.users.findByUsername('alice')?.disabled).to.equal(false);
    const back = await new Browser(app.url).login('alice', GOOD_PASSWORD);
    expect(back.status).to.equal(303);
    expect(back.location).to.equal('/');
  });

  it('treats enabling an enabled user (or disabling a disabled one) as a no-op with a notice', async () => {
    const before = snapshot(app);
    const res = await submit(admin, '/admin/users/alice', '/admin/users/alice/enable');
    expect(res.status).to.equal(303);
    expect(flashes(await admin.get('/admin/users/alice'))).to.deep.equal(['alice is already enabled.']);
    expect(snapshot(app)).to.equal(before);
    app.ctx.accounts.disable('alice', 'test');
    const disabled = snapshot(app);
    await submit(admin, '/admin/users/alice', '/admin/users/alice/disable');
    expect(flashes(await admin.get('/admin/users/alice'))).to.deep.equal(['alice is already disabled.']);
    expect(snapshot(app)).to.equal(disabled);
  });

  it('deletes a user after the username is typed: account and sessions gone, audit keeps the id without the name', async () => {
    const alice = await signIn(app, 'alice');
    const id = app.ctx.users.findByUsername('alice')!.id;
    const wrong = await submit(admin, '/admin/users/alice', '/admin/users/alice/delete', { confirm: 'alicia' });
    expect(wrong.status).to.equal(400);
    expect(wrong.text).to.contain('Type the username &quot;alice&quot; to confirm');
    expect(app.ctx.users.findByUsername('alice')).to.not.equal(null);

    const res = await submit(admin, '/admin/users/alice', '/admin/users/alice/delete', { confirm: 'alice' });
    expect(res.status).to.equal(303);
    expect(res.location).to.equal('/admin/users');
    expect(flashes(await admin.get('/admin/users'))[0]).to.match(/alice was deleted/);
    expect(app.ctx.users.findByUsername('alice')).to.equal(null);
    expect((await alice.get('/')).location).to.equal('/login');
    const rows = app.ctx.db.prepare('SELECT user_id, username FROM audit_log WHERE user_id = ?').all(id) as Array<{ user_id: number; username: string | null }>;
    expect(rows.length).to.be.greaterThan(1);
    for (const r of rows) expect(r.username).to.equal(null);
    expect(app.ctx.db.prepare('SELECT count(*) FROM sessions WHERE user_id = ? AND deleted_at IS NULL').pluck().get(id)).to.equal(0);
    expect((await admin.get('/admin/users/alice')).status).to.equal(404);
  });

  it('never disables, deletes or demotes the last enabled administrator (409 with the reason)', async () => {
    app.ctx.accounts.disable('ops', 'test');
    const attempts: Array<[string, Record<string, string>]> = [
      ['/admin/users/root/disable', {}],
      ['/admin/users/root/delete', { confirm: 'root' }],
      ['/admin/users/root', { display_name: 'root', email: '', groups: 'family' }],
    ];
    for (const [action, fields] of attempts) {
      const before = snapshot(app);
      const res = await submit(admin, '/admin/users/root', action, fields);
      expect(res.status, action).to.equal(409);
      expect(res.text, action).to.contain('root is the only enabled administrator');
      expect(snapshot(app), action).to.equal(before);
    }
    expect((await admin.get('/admin')).status).to.equal(200);
  });

  it('shows deletion requests on the overview, and declines or deletes them', async () => {
    const aliceId = app.ctx.users.findByUsername('alice')!.id;
    app.ctx.accounts.requestDeletion(aliceId, '192.0.2.1');
    const overview = await admin.get('/admin');
    expect(overview.text).to.contain('action="/admin/users/alice/delete"').and.contain('action="/admin/users/alice/deletion-request/decline"');
    expect((await admin.get('/admin/users')).text).to.contain('deletion requested');

    const declined = await submit(admin, '/admin', '/admin/users/alice/deletion-request/decline');
    expect(declined.status).to.equal(303);
    expect(declined.location).to.equal('/admin');
    expect(app.ctx.users.findByUsername('alice')?.deletionRequestedAt).to.equal(null);
    expect(recentAudit(app.ctx, 1)[0]).to.include({ event: 'account-deletion-cancelled' });
    expect((await admin.get('/admin')).text).to.contain('No pending deletion requests.');
    const again = await submit(admin, '/admin', '/admin/users/alice/deletion-request/decline');
    expect(again.status).to.equal(400);

    app.ctx.accounts.requestDeletion(aliceId, '192.0.2.1');
    const deleted = await submit(admin, '/admin', '/admin/users/alice/delete', { confirm: 'alice' });
    expect(deleted.status).to.equal(303);
    expect(app.ctx.users.findByUsername('alice')).to.equal(null);
  });

  it('answers 404 for unknown users on every user route', async () => {
    expect((await admin.get('/admin/users/nobody')).status).to.equal(404);
    for (const action of ['', '/password', '/disable', '/enable', '/delete', '/deletion-request/decline']) {
      const res = await submit(admin, '/admin/users', `/admin/users/nobody${action}`, { display_name: 'x', email: '', password: OTHER_PASSWORD, password_confirm: OTHER_PASSWORD, confirm: 'nobody' });
      expect(res.status, action).to.equal(404);
    }
  });

  it('reaches a user named "new" despite the add form living at /admin/users/new', async () => {
    await submit(admin, '/admin/users/new', '/admin/users', { username: 'new', password: OTHER_PASSWORD, password_confirm: OTHER_PASSWORD });
    const list = await admin.get('/admin/users');
    expect(list.text).to.contain('href="/admin/users/%6Eew"');
    const page = await admin.get('/admin/users/%6Eew');
    expect(page.status).to.equal(200);
    expect(page.text).to.contain('action="/admin/users/%6Eew/disable"');
    const res = await submit(admin, '/admin/users/%6Eew', '/admin/users/%6Eew/disable');
    expect(res.status).to.equal(303);
    expect(app.ctx.users.findByUsername('new')?.disabled).to.equal(true);
  });
});
