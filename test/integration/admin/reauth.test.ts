// Re-authentication before dangerous admin actions: a form sent over 10 minutes after the
// sign-in is answered with the password prompt carrying what was typed (nothing changes yet);
// a wrong password is refused, the right one carries the action out with those fields.
// /reauth remains for other requests. Protective actions never ask.

import { expect } from 'chai';
import { Browser } from '../../support/browser.js';
import { answerPrompt, promptForm } from '../../support/reauth-prompt.js';
import { flashes, GOOD_PASSWORD, liveSessionsOf, OTHER_PASSWORD, signIn, snapshot, startAdminApp, submit, type AdminApp } from './admin-support.js';
import { recentAudit } from '../../support/audit.js';

const ELEVEN_MINUTES = 11 * 60_000;

/** The dangerous actions, each as [page the form is on, action, fields]. */
const DANGEROUS: Array<[string, string, Record<string, string>]> = [
  ['/admin/users/new', '/admin/users', { username: 'newcomer', password: OTHER_PASSWORD, password_confirm: OTHER_PASSWORD }],
  ['/admin/users/alice', '/admin/users/alice', { display_name: 'Alice A.', email: '', groups: 'family' }],
  ['/admin/users/alice', '/admin/users/alice/password', { password: OTHER_PASSWORD, password_confirm: OTHER_PASSWORD }],
  ['/admin/users/alice', '/admin/users/alice/disable', {}],
  ['/admin/users/alice', '/admin/users/alice/enable', {}],
  ['/admin/users/alice', '/admin/users/alice/delete', { confirm: 'alice' }],
  ['/admin', '/admin/users/alice/delete', { confirm: 'alice' }],
];

describe('re-authentication before dangerous admin actions', () => {
  let app: AdminApp;
  let admin: Browser;
  beforeEach(async () => {
    app = await startAdminApp();
    admin = await signIn(app, 'root');
  });
  afterEach(() => app.close());

  it('lets a fresh sign-in act without asking again', async () => {
    const res = await submit(admin, '/admin/users/alice', '/admin/users/alice/disable');
    expect(res.status).to.equal(303);
    expect(res.location).to.equal('/admin/users/alice');
    expect(app.ctx.users.findByUsername('alice')?.disabled).to.equal(true);
  });

  for (const [page, action, fields] of DANGEROUS) {
    it(`${action} (from ${page}) after 11 minutes answers 403 with the password prompt carrying the form, and changes nothing`, async () => {
      if (action.endsWith('/enable')) app.ctx.accounts.disable('alice', 'test');
      app.clock.advance(ELEVEN_MINUTES);
      const token = await admin.csrf(page);
      const before = snapshot(app);
      const res = await admin.post(action, { _csrf: token, ...fields }, { referer: `${app.url}${page}` });
      expect(res.status).to.equal(403);
      expect(res.headers.get('cache-control')).to.contain('no-store');
      const form = promptForm(res);
      expect(form?.action).to.equal(action);
      expect(form?.fields).to.deep.equal([['_csrf', token], ...Object.entries(fields)]);
      expect(res.text).to.match(/<input id="password" name="_reauth_password" type="password" autocomplete="current-password"/);
      expect(res.text).to.contain(`<a href="${page}">Cancel</a>`);
      expect(snapshot(app)).to.equal(before);
    });
  }

  it('Add user: after the password, the user is created with exactly what was typed (groups, email, the chosen password)', async () => {
    app.clock.advance(ELEVEN_MINUTES);
    const typed = { username: 'newcomer', display_name: 'New Comer', email: 'new@home.example', groups: ['family', 'media'], password: OTHER_PASSWORD, password_confirm: OTHER_PASSWORD };
    const prompt = await submit(admin, '/admin/users/new', '/admin/users', typed);
    expect(prompt.status).to.equal(403);
    expect(promptForm(prompt)?.fields.filter(([name]) => name === 'groups')).to.deep.equal([['groups', 'family'], ['groups', 'media']]);
    const cookieBefore = admin.cookieHeader();

    const done = await answerPrompt(admin, prompt, GOOD_PASSWORD, `${app.url}/admin/users/new`);
    expect(done.status, done.text).to.equal(303);
    expect(done.location).to.equal('/admin/users/newcomer');
    expect(done.location).not.to.contain(OTHER_PASSWORD);
    const created = app.ctx.users.findByUsername('newcomer');
    expect(created).to.include({ displayName: 'New Comer', email: 'new@home.example' });
    expect(created?.groups).to.have.members(['family', 'media']);
    expect(await app.ctx.accounts.checkPassword(created?.id as number, OTHER_PASSWORD)).to.equal(true);
    expect(recentAudit(app.ctx, 10).map((e) => e.event)).to.include.members(['reauth-succeeded', 'user-created']);
    // The confirmation renewed the session ID: the cookie from before is dead, the new one is recent.
    expect(admin.cookieHeader()).not.to.equal(cookieBefore);
    expect((await admin.get('/admin', { cookie: cookieBefore })).location).to.equal('/login');
    expect((await submit(admin, '/admin/users/alice', '/admin/users/alice/disable')).status).to.equal(303);
    expect(app.ctx.users.findByUsername('alice')?.disabled).to.equal(true);
    // Ten minutes later it asks again.
    app.clock.advance(ELEVEN_MINUTES);
    expect((await submit(admin, '/admin/users/alice', '/admin/users/alice/enable')).status).to.equal(403);
  });

  it('Reset password: a wrong password keeps the prompt and the form (403, audited), the right one sets the typed password', async () => {
    app.clock.advance(ELEVEN_MINUTES);
    const prompt = await submit(admin, '/admin/users/alice', '/admin/users/alice/password', { password: OTHER_PASSWORD, password_confirm: OTHER_PASSWORD });
    const before = snapshot(app);
    const wrong = await answerPrompt(admin, prompt, 'not my password at all');
    expect(wrong.status).to.equal(403);
    expect(wrong.text).to.contain('That is not your current password.');
    expect(promptForm(wrong)?.fields.slice(1)).to.deep.equal([['password', OTHER_PASSWORD], ['password_confirm', OTHER_PASSWORD]]);
    expect(recentAudit(app.ctx, 1)[0]?.event).to.equal('reauth-failed');
    expect(JSON.stringify(recentAudit(app.ctx, 5))).not.to.contain(OTHER_PASSWORD);
    const accounts = (snap: string) => JSON.stringify((JSON.parse(snap) as { users: unknown; sessions: unknown }).users);
    expect(accounts(snapshot(app)), 'no account changed (the failure is counted)').to.equal(accounts(before));

    const right = await answerPrompt(admin, wrong, GOOD_PASSWORD);
    expect(right.status).to.equal(303);
    expect(right.location).to.equal('/admin/users/alice');
    const alice = app.ctx.users.findByUsername('alice');
    expect(alice?.mustChangePassword).to.equal(true);
    expect(await app.ctx.accounts.checkPassword(alice?.id as number, OTHER_PASSWORD)).to.equal(true);
    expect(flashes(await admin.get('/admin/users/alice')).join(' ')).not.to.contain('repeat the action');
  });

  it('the prompt is throttled like sign-in: 429 with Retry-After, the form still kept', async () => {
    app.clock.advance(ELEVEN_MINUTES);
    let last = await submit(admin, '/admin/users/alice', '/admin/users/alice', { display_name: 'Alice A.', email: 'a@home.example' });
    for (let i = 0; i < 30 && last.status !== 429; i += 1) last = await answerPrompt(admin, last, `wrong password number ${i}`);
    expect(last.status).to.equal(429);
    expect(Number(last.headers.get('retry-after'))).to.be.greaterThan(0);
    expect(last.text).to.contain('Too many wrong passwords');
    expect(promptForm(last)?.fields.slice(1)).to.deep.equal([['display_name', 'Alice A.'], ['email', 'a@home.example']]);
    expect((await answerPrompt(admin, last, GOOD_PASSWORD)).status, 'not even the right password while throttled').to.equal(429);
    expect(app.ctx.users.findByUsername('alice')?.displayName).to.equal('alice');
  });

  it('the prompt is not offered where passwords may not be typed (plain HTTP through a proxy)', async () => {
    app.clock.advance(ELEVEN_MINUTES);
    const token = await admin.csrf('/admin/users/alice');
    const res = await admin.post('/admin/users/alice/disable', { _csrf: token }, { 'x-forwarded-proto': 'http' });
    expect(res.status).to.equal(403);
    expect(promptForm(res)).to.equal(null);
    expect(res.text).to.contain('HTTPS');
    expect(app.ctx.users.findByUsername('alice')?.disabled).to.equal(false);
  });

  it('the prompt keeps CSRF protection: without the token, or with another session\'s, nothing happens', async () => {
    app.clock.advance(ELEVEN_MINUTES);
    const prompt = await submit(admin, '/admin/users/alice', '/admin/users/alice/disable');
    const other = await signIn(app, 'ops');
    const foreign = await other.csrf('/admin');
    const before = snapshot(app);
    for (const _csrf of [undefined, foreign]) {
      const form = { ...(_csrf ? { _csrf } : {}), _reauth_password: GOOD_PASSWORD };
      const res = await admin.post('/admin/users/alice/disable', form);
      expect(res.status).to.equal(403);
      expect(promptForm(res)).to.equal(null);
    }
    expect(snapshot(app)).to.equal(before);
    expect((await answerPrompt(admin, prompt, GOOD_PASSWORD)).status).to.equal(303);
  });

  it('a prompt password sent while the sign-in is recent reaches no action and is not checked', async () => {
    const token = await admin.csrf('/admin/users/alice');
    const res = await admin.post('/admin/users/alice', { _csrf: token, display_name: 'Alice A.', email: '', groups: 'family', _reauth_password: 'anything at all' });
    expect(res.status).to.equal(303);
    expect(app.ctx.users.findByUsername('alice')?.displayName).to.equal('Alice A.');
    expect(recentAudit(app.ctx, 10).map((e) => e.event)).not.to.include('reauth-failed');
  });

  it('/reauth (for requests that are not page forms) still asks with a form password managers understand and goes back', async () => {
    app.clock.advance(ELEVEN_MINUTES);
    const page = await admin.get('/reauth?rd=%2Fadmin%2Fusers%2Falice');
    expect(page.status).to.equal(200);
    expect(page.headers.get('cache-control')).to.contain('no-store');
    expect(page.text).to.match(/<input[^>]+type="password"[^>]+autocomplete="current-password"/);
    expect(page.text).to.contain('value="/admin/users/alice"');
    const wrong = await submit(admin, '/reauth', '/reauth', { password: 'not my password at all', rd: '/admin/users/alice' });
    expect(wrong.status).to.equal(403);
    const right = await submit(admin, '/reauth', '/reauth', { password: GOOD_PASSWORD, rd: '/admin/users/alice' });
    expect(right.status).to.equal(303);
    expect(right.location).to.equal('/admin/users/alice');
    expect((await submit(admin, '/admin/users/alice', '/admin/users/alice/disable')).status).to.equal(303);
  });

  it('only returns to paths inside gatehouse', async () => {
    for (const rd of ['//evil.example/x', 'https://evil.example/', '/\\evil.example', 'javascript:alert(1)', '/%0d%0aSet-Cookie:x', '']) {
      const res = await submit(admin, '/reauth', '/reauth', { password: GOOD_PASSWORD, rd });
      expect(res.status, rd).to.equal(303);
      expect(res.location, rd).to.equal('/admin');
    }
    const page = await admin.get('/reauth?rd=%2F%2Fevil.example');
    expect(page.text).to.contain('name="rd" value="/admin"');
  });

  it('throttles repeated wrong passwords with 429 and Retry-After', async () => {
    let last = await submit(admin, '/reauth', '/reauth', { password: 'wrong password number one' });
    for (let i = 0; i < 30 && last.status === 403; i += 1) {
      last = await submit(admin, '/reauth', '/reauth', { password: `wrong password number ${i + 2}` });
    }
    expect(last.status).to.equal(429);
    expect(Number(last.headers.get('retry-after'))).to.be.greaterThan(0);
    expect(last.text).to.contain('Too many wrong passwords');
  });

  it('refuses malformed re-authentication forms with 4xx', async () => {
    const token = await admin.csrf('/reauth');
    const arrays = await admin.post('/reauth', { _csrf: token, password: ['a', 'b'] });
    expect(arrays.status).to.equal(400);
    const long = await admin.post('/reauth', { _csrf: token, password: 'x'.repeat(5000) });
    expect(long.status).to.equal(400);
    const none = await admin.post('/reauth', { _csrf: token });
    expect(none.status).to.equal(400);
    const noCsrf = await admin.post('/reauth', { password: GOOD_PASSWORD });
    expect(noCsrf.status).to.equal(403);
  });

  it('does not ask again for protective actions: ending a session, lifting a ban, declining a deletion request', async () => {
    const alice = await signIn(app, 'alice');
    app.ctx.accounts.requestDeletion(app.ctx.users.findByUsername('alice')!.id, null);
    app.clock.advance(ELEVEN_MINUTES);
    const handle = app.ctx.sessions.list({ userId: app.ctx.users.findByUsername('alice')!.id })[0]?.handle as string;
    const revoked = await submit(admin, '/admin/sessions', `/admin/sessions/${handle}/revoke`);
    expect(revoked.status).to.equal(303);
    expect(revoked.location).to.equal('/admin/sessions');
    expect(liveSessionsOf(app, 'alice')).to.equal(0);
    expect((await alice.get('/')).location).to.equal('/login');

    const lifted = await submit(admin, '/admin/bans', '/admin/bans/lift', { target: '198.51.100.7' });
    expect(lifted.status).to.equal(303);
    const declined = await submit(admin, '/admin', '/admin/users/alice/deletion-request/decline');
    expect(declined.status).to.equal(303);
    expect(app.ctx.users.findByUsername('alice')?.deletionRequestedAt).to.equal(null);
  });
});
