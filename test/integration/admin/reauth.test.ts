// Re-authentication before dangerous admin actions: a sign-in older than 10 minutes sends
// the administrator to /reauth (nothing changes), a wrong password is refused, the right
// one goes back to the page and the repeated action works. Protective actions never ask.

import { expect } from 'chai';
import { Browser } from '../../support/browser.js';
import { flashes, GOOD_PASSWORD, liveSessionsOf, OTHER_PASSWORD, signIn, snapshot, startAdminApp, submit, type AdminApp } from './admin-support.js';

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
    it(`${action} (from ${page}) after 11 minutes redirects to /reauth and changes nothing`, async () => {
      if (action.endsWith('/enable')) app.ctx.accounts.disable('alice', 'test');
      app.clock.advance(ELEVEN_MINUTES);
      const token = await admin.csrf(page);
      const before = snapshot(app);
      const res = await admin.post(action, { _csrf: token, ...fields }, { referer: `${app.url}${page}` });
      expect(res.status).to.equal(303);
      expect(res.location).to.equal(`/reauth?rd=${encodeURIComponent(page)}`);
      expect(snapshot(app)).to.equal(before);
    });
  }

  it('asks for the password with a form password managers understand', async () => {
    app.clock.advance(ELEVEN_MINUTES);
    const page = await admin.get('/reauth?rd=%2Fadmin%2Fusers%2Falice');
    expect(page.status).to.equal(200);
    expect(page.headers.get('cache-control')).to.contain('no-store');
    expect(page.text).to.match(/<input[^>]+type="password"[^>]+autocomplete="current-password"/);
    expect(page.text).to.contain('value="/admin/users/alice"');
  });

  it('refuses a wrong password with 403, then accepts the right one and the repeated action works', async () => {
    app.clock.advance(ELEVEN_MINUTES);
    const attempt = await submit(admin, '/admin/users/alice', '/admin/users/alice/disable');
    expect(attempt.location).to.equal('/reauth?rd=%2Fadmin%2Fusers%2Falice');

    const wrong = await submit(admin, attempt.location as string, '/reauth', { password: 'not my password at all', rd: '/admin/users/alice' });
    expect(wrong.status).to.equal(403);
    expect(wrong.text).to.contain('That is not your current password.');
    expect(app.ctx.audit.recent(1)[0]?.event).to.equal('reauth-failed');
    // Still not recent: the action still asks.
    expect((await submit(admin, '/admin/users/alice', '/admin/users/alice/disable')).location).to.match(/^\/reauth/);

    const right = await submit(admin, '/reauth?rd=%2Fadmin%2Fusers%2Falice', '/reauth', { password: GOOD_PASSWORD, rd: '/admin/users/alice' });
    expect(right.status).to.equal(303);
    expect(right.location).to.equal('/admin/users/alice');
    const back = await admin.get(right.location as string);
    expect(flashes(back)).to.include('Confirmed. Now repeat the action.');
    expect(app.ctx.audit.recent(5).map((e) => e.event)).to.include('reauth-succeeded');

    const repeated = await submit(admin, '/admin/users/alice', '/admin/users/alice/disable');
    expect(repeated.status).to.equal(303);
    expect(repeated.location).to.equal('/admin/users/alice');
    expect(app.ctx.users.findByUsername('alice')?.disabled).to.equal(true);
    // And it stays recent for 10 minutes, then asks again.
    app.clock.advance(ELEVEN_MINUTES);
    expect((await submit(admin, '/admin/users/alice', '/admin/users/alice/enable')).location).to.match(/^\/reauth/);
  });

  it('goes back to the action address when the browser sent no Referer, which leads to the user page', async () => {
    app.clock.advance(ELEVEN_MINUTES);
    const token = await admin.csrf('/admin/users/alice');
    const res = await admin.post('/admin/users/alice/disable', { _csrf: token });
    expect(res.location).to.equal('/reauth?rd=%2Fadmin%2Fusers%2Falice%2Fdisable');
    const right = await submit(admin, res.location as string, '/reauth', { password: GOOD_PASSWORD, rd: '/admin/users/alice/disable' });
    expect(right.location).to.equal('/admin/users/alice/disable');
    const landing = await admin.get('/admin/users/alice/disable');
    expect(landing.status).to.equal(303);
    expect(landing.location).to.equal('/admin/users/alice');
    expect(app.ctx.users.findByUsername('alice')?.disabled).to.equal(false);
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
