// Hostile input to the admin pages: lists where one value belongs, NUL and invisible
// characters, over-long values, too many fields, wrong content types, malformed paths and
// queries. Every answer is a 4xx with a message, never a 5xx, and nothing changes.

import { expect } from 'chai';
import type { Browser } from '../../support/browser.js';
import { OTHER_PASSWORD, signIn, snapshot, startAdminApp, type AdminApp } from './admin-support.js';

const LONG = 'a'.repeat(5000);

describe('admin pages: hostile input', () => {
  let app: AdminApp;
  let admin: Browser;
  let token: string;
  before(async () => {
    app = await startAdminApp();
    admin = await signIn(app, 'root');
    token = await admin.csrf('/admin');
  });
  after(() => app.close());

  const newUser = { username: 'bob', password: OTHER_PASSWORD, password_confirm: OTHER_PASSWORD };
  const POSTS: Array<[string, string, Record<string, string | string[]>, RegExp]> = [
    ['username as a list', '/admin/users', { ...newUser, username: ['bob', 'eve'] }, /username must be a single text value/i],
    ['NUL in the username', '/admin/users', { ...newUser, username: 'bo\0b' }, /control or invisible/],
    ['zero-width joiner in the username', '/admin/users', { ...newUser, username: 'bo\u200db' }, /control or invisible/],
    ['over-long username', '/admin/users', { ...newUser, username: LONG }, /too long/],
    ['NUL in the display name', '/admin/users', { ...newUser, display_name: 'Bob\0' }, /control or invisible/],
    ['over-long email', '/admin/users', { ...newUser, email: `${LONG}@example.org` }, /too long/],
    ['password as a list', '/admin/users', { ...newUser, password: [OTHER_PASSWORD, OTHER_PASSWORD] }, /password must be a single text value/i],
    ['over-long password', '/admin/users', { ...newUser, password: LONG, password_confirm: LONG }, /too long|at most/i],
    ['NUL in a group', '/admin/users', { ...newUser, groups: ['family', 'fam\0ily'] }, /control or invisible/],
    ['other groups as a list', '/admin/users', { ...newUser, groups_other: ['a', 'b'] }, /single text value/],
    ['display name as a list', '/admin/users/alice', { display_name: ['a', 'b'], email: '' }, /single text value/],
    ['email missing', '/admin/users/alice', { display_name: 'Alice' }, /email address is missing/],
    ['NUL in the email', '/admin/users/alice', { display_name: 'Alice', email: 'a\0@example.org' }, /control or invisible/],
    ['reset password as a list', '/admin/users/alice/password', { password: ['x', 'y'], password_confirm: 'x' }, /single text value/],
    ['reset password missing', '/admin/users/alice/password', {}, /missing/],
    ['delete confirmation as a list', '/admin/users/alice/delete', { confirm: ['alice', 'alice'] }, /single text value/],
    ['NUL in the delete confirmation', '/admin/users/alice/delete', { confirm: 'alice\0' }, /control or invisible/],
    ['ban target as a list', '/admin/bans/lift', { target: ['alice', '192.0.2.1'] }, /single text value/],
    ['NUL in the ban target', '/admin/bans/lift', { target: '192.0.2.1\0' }, /control or invisible/],
    ['over-long ban target', '/admin/bans/lift', { target: LONG }, /too long/],
  ];

  for (const [label, path, fields, message] of POSTS) {
    it(`${path}: ${label} → 400 with a message, nothing changed`, async () => {
      const before = snapshot(app);
      const res = await admin.post(path, { _csrf: token, ...fields });
      expect(res.status).to.equal(400);
      expect(res.text).to.match(message);
      expect(snapshot(app)).to.equal(before);
    });
  }

  it('refuses too many fields (413) and a non-form body (400) on admin forms', async () => {
    const before = snapshot(app);
    const many = await admin.post('/admin/users', { _csrf: token, ...newUser, groups: Array.from({ length: 40 }, (_, i) => `g${i}`) });
    expect(many.status).to.equal(413);
    const json = await admin.request('POST', '/admin/bans/lift', { body: JSON.stringify({ _csrf: token, target: 'alice' }), headers: { 'content-type': 'application/json', 'x-csrf-token': token } });
    expect(json.status).to.equal(400);
    expect(json.text).to.contain('missing');
    const huge = await admin.post('/admin/bans/lift', { _csrf: token, target: 'x'.repeat(40_000) });
    expect(huge.status).to.equal(413);
    expect(snapshot(app)).to.equal(before);
  });

  it('answers malformed paths and queries with 4xx, never 5xx', async () => {
    const gets = [
      '/admin/users/%00',
      '/admin/users/%E0%A4%A',
      `/admin/users/${LONG}`,
      '/admin/users/%EF%BC%A1lice/nothing',
      '/admin/sessions?state=bogus',
      '/admin/sessions?state=live&state=ended',
      '/admin/sessions?user=%00',
      '/admin/sessions?user=bad%20name!',
      `/admin/sessions?user=${LONG}`,
      '/admin/audit?before=99999999999999999999',
      '/admin/audit?from=2026-13-01',
      '/admin/audit?to=2026-01-01T12:61',
      '/admin/audit?from=0000-01-01',
      '/admin/audit?ip=1.2.3.4%00',
      '/admin/audit.csv?event=a&event=b',
    ];
    for (const path of gets) {
      const res = await admin.get(path);
      expect(res.status, path).to.be.within(400, 499);
    }
    // A garbage return path is not an error: re-authentication goes back to /admin instead.
    const reauth = await admin.get('/reauth?rd=%00');
    expect(reauth.status).to.equal(200);
    expect(reauth.text).to.contain('name="rd" value="/admin"');
    // Fullwidth letters fold to the same user (NFKC): the look-alike path reaches alice's page.
    expect((await admin.get('/admin/users/%EF%BD%81lice')).status).to.equal(200);
  });

  it('answers malformed session handles and return paths with 4xx', async () => {
    const before = snapshot(app);
    for (const handle of ['%00', 'ABCDEFABCDEF0', LONG.slice(0, 300), '..%2f..%2fadmin']) {
      const res = await admin.post(`/admin/sessions/${handle}/revoke`, { _csrf: token });
      expect(res.status, handle).to.be.within(400, 499);
    }
    const listReturn = await admin.post('/admin/sessions/abcdefabcdef/revoke', { _csrf: token, return_to: ['/admin', '/admin'] });
    expect(listReturn.status).to.equal(400);
    expect(snapshot(app)).to.equal(before);
  });
});
