// Every admin route, table-driven: members get 403, anonymous visitors are sent to sign in
// (GET) or refused (POST), forms without a valid CSRF token get 403, and none of these
// refused requests changes anything.

import { expect } from 'chai';
import { Browser } from '../../support/browser.js';
import { GOOD_PASSWORD, OTHER_PASSWORD, signIn, snapshot, startAdminApp, type AdminApp } from './admin-support.js';

const GETS = [
  '/admin',
  '/admin/users',
  '/admin/users/new',
  '/admin/users/alice',
  '/admin/users/alice/disable',
  '/admin/sessions',
  '/admin/sessions?state=ended',
  '/admin/audit',
  '/admin/audit.csv',
  '/admin/bans',
];

/** Each POST with fields that would succeed for a recently signed-in administrator. */
function posts(aliceHandle: string): Array<[string, Record<string, string>]> {
  return [
    ['/admin/users', { username: 'newcomer', password: OTHER_PASSWORD, password_confirm: OTHER_PASSWORD }],
    ['/admin/users/alice', { display_name: 'Mallory', email: 'm@example.org', groups: 'admins' }],
    ['/admin/users/alice/password', { password: OTHER_PASSWORD, password_confirm: OTHER_PASSWORD }],
    ['/admin/users/alice/disable', {}],
    ['/admin/users/alice/enable', {}],
    ['/admin/users/alice/delete', { confirm: 'alice' }],
    ['/admin/users/alice/deletion-request/decline', {}],
    [`/admin/sessions/${aliceHandle}/revoke`, {}],
    ['/admin/bans/lift', { target: '203.0.113.9' }],
  ];
}

describe('admin routes: who may use them', () => {
  let app: AdminApp;
  let member: Browser;
  let memberHandle: string;
  before(async () => {
    app = await startAdminApp();
    member = await signIn(app, 'alice');
    memberHandle = (app.ctx.sessions.list({ userId: app.ctx.users.findByUsername('alice')!.id })[0] as { handle: string }).handle;
    // Something to refuse: a deletion request and a ban.
    app.ctx.accounts.requestDeletion(app.ctx.users.findByUsername('alice')!.id, null);
    for (let i = 0; i < 25; i += 1) {
      const attempt = app.ctx.regulator.check('203.0.113.9', `nobody${i}`);
      if (attempt.allowed) attempt.attempt.failed();
    }
  });
  after(() => app.close());

  it('has a live member session and a ban to protect', () => {
    expect(app.ctx.sessions.list({}).map((s) => s.handle)).to.include(memberHandle);
    expect(app.ctx.regulator.listBans().length).to.be.greaterThan(0);
  });

  for (const path of GETS) {
    it(`GET ${path}: a member gets 403`, async () => {
      const res = await member.get(path);
      expect(res.status).to.equal(403);
      expect(res.text).to.contain('for administrators');
    });
    it(`GET ${path}: an anonymous visitor is sent to /login`, async () => {
      const res = await new Browser(app.url).get(path);
      expect(res.status).to.equal(303);
      expect(res.location).to.equal('/login');
    });
  }

  it('POSTs from a member (with a valid CSRF token of their own) get 403 and change nothing', async () => {
    for (const [path, fields] of posts(memberHandle)) {
      const token = await member.csrf('/');
      const before = snapshot(app);
      const res = await member.post(path, { _csrf: token, ...fields });
      expect(res.status, path).to.equal(403);
      expect(snapshot(app), path).to.equal(before);
    }
  });

  it('POSTs from an anonymous visitor get 401 and change nothing', async () => {
    for (const [path, fields] of posts(memberHandle)) {
      const anonymous = new Browser(app.url);
      const token = await anonymous.csrf('/login');
      const before = snapshot(app);
      const res = await anonymous.post(path, { _csrf: token, ...fields });
      expect(res.status, path).to.equal(401);
      expect(snapshot(app), path).to.equal(before);
    }
  });

  it('POSTs from an administrator without a CSRF token, or with a wrong one, get 403 and change nothing', async () => {
    const admin = await signIn(app, 'root');
    const valid = await admin.csrf('/admin');
    const forged = `${valid.slice(0, -4)}AAAA` === valid ? `${valid.slice(0, -4)}BBBB` : `${valid.slice(0, -4)}AAAA`;
    // Another session's token is no good either.
    const otherToken = await member.csrf('/');
    for (const [path, fields] of posts(memberHandle)) {
      for (const [label, extra] of [['missing', {}], ['forged', { _csrf: forged }], ["another session's", { _csrf: otherToken }]] as const) {
        const before = snapshot(app);
        const res = await admin.post(path, { ...extra, ...fields });
        expect(res.status, `${path} (${label} token)`).to.equal(403);
        expect(res.text, path).to.contain('This form has expired');
        expect(snapshot(app), `${path} (${label} token)`).to.equal(before);
      }
    }
    // The administrator's session still works: the refusals did not sign them out.
    expect((await admin.get('/admin')).status).to.equal(200);
  });

  it('refuses a cross-site POST even with a valid token', async () => {
    const admin = await signIn(app, 'root');
    const token = await admin.csrf('/admin/bans');
    const before = snapshot(app);
    const res = await admin.post('/admin/bans/lift', { _csrf: token, target: '203.0.113.9' }, { 'sec-fetch-site': 'cross-site' });
    expect(res.status).to.equal(403);
    expect(snapshot(app)).to.equal(before);
  });

  it('answers admin pages with no-store, and with no inline script', async () => {
    const admin = await signIn(app, 'root');
    for (const path of GETS.filter((p) => !p.endsWith('/disable'))) {
      const res = await admin.get(path);
      expect(res.status, path).to.equal(200);
      expect(res.headers.get('cache-control'), path).to.contain('no-store');
      expect(res.text, path).not.to.match(/<script(?![^>]*\bsrc=)/i);
      expect(res.text, path).not.to.match(/\son[a-z]+="/i);
    }
  });

  it('does not let a member open the re-authentication page into an admin action', async () => {
    const res = await member.get('/reauth?rd=/admin/users');
    expect(res.status).to.equal(200);
    const token = /name="_csrf" value="([^"]+)"/.exec(res.text)?.[1] as string;
    const confirmed = await member.post('/reauth', { _csrf: token, password: GOOD_PASSWORD, rd: '/admin/users' });
    expect(confirmed.status).to.equal(303);
    expect((await member.get('/admin/users')).status).to.equal(403);
  });
});
