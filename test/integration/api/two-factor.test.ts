// The JSON API under the two_factor policies, with the session cookie: a user who must use
// a second factor and has none, or whose session has not passed it, reaches only /me until
// they have; admin operations need the admin's second factor when they have one.

import { expect } from 'chai';
import { FakeClock } from '../../support/clock.js';
import { addUser, GOOD_PASSWORD, startApp, type TestApp } from '../../support/harness.js';
import { ApiDoc, signedIn } from '../../support/openapi.js';
import { codeAt } from '../../unit/twofactor/support.js';

describe('API: two-factor policies for cookie sessions', () => {
  let app: TestApp;
  let doc: ApiDoc;
  let clock: FakeClock;

  beforeEach(async () => {
    clock = new FakeClock();
    app = await startApp({ clock, config: { two_factor: { required_for_groups: ['admins'] } } });
    await addUser(app.ctx, 'root', { groups: ['admins'] });
    doc = await ApiDoc.fetch(app.url);
  });
  afterEach(() => app.close());

  it('an admin who must enrol reaches only /me (the pages send them to enrollment)', async () => {
    const root = await signedIn(doc, app.url, 'root', GOOD_PASSWORD);
    expect((await root.get('/api/v1/me')).status).to.equal(200);
    for (const path of ['/api/v1/users', '/api/v1/me/sessions', '/api/v1/audit']) {
      const res = await root.get(path);
      expect(res.status, path).to.equal(403);
      expect(res.body.error.code, path).to.equal('second-factor-enrollment-required');
    }
  });

  it('a password-only session of an admin who has a factor must take the second step first', async () => {
    const root = await signedIn(doc, app.url, 'root', GOOD_PASSWORD);
    // The factor appears after this session signed in (another device set it up).
    const user = app.ctx.users.findByUsername('root')!;
    const { secret } = await app.ctx.twoFactor.totp.begin(user);
    expect(app.ctx.twoFactor.totp.confirm(user, codeAt(secret, clock.now())).ok).to.equal(true);
    const res = await root.get('/api/v1/users');
    expect(res.status).to.equal(403);
    expect(res.body.error.code).to.equal('second-factor-required');
  });
});
