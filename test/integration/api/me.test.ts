// /api/v1/me with the session cookie: CSRF on every state change (without it nothing
// changes), cross-site refused, password change and re-authentication, own sessions,
// personal data, the deletion request, and the forced password change.

import { expect } from 'chai';
import { FakeClock } from '../../support/clock.js';
import { Browser } from '../../support/browser.js';
import { codeAt } from '../../unit/twofactor/support.js';
import { addUser, GOOD_PASSWORD, startApp, type TestApp } from '../../support/harness.js';
import { Api, ApiDoc, createToken, signedIn } from '../../support/openapi.js';
import { recentAudit } from '../../support/audit.js';

const NEW_PASSWORD = 'violet submarine orbits quietly';

describe('API /me with the session cookie', () => {
  let app: TestApp;
  let doc: ApiDoc;
  let clock: FakeClock;
  let alice: Api;

  beforeEach(async () => {
    clock = new FakeClock();
    app = await startApp({ clock });
    await addUser(app.ctx, 'alice');
    doc = await ApiDoc.fetch(app.url);
    alice = await signedIn(doc, app.url, 'alice', GOOD_PASSWORD);
  });
  afterEach(() => app.close());

  const liveSessions = () => app.ctx.sessions.list({ userId: app.ctx.users.findByUsername('alice')!.id }).length;

  it('GET /me describes the caller and how they authenticated', async () => {
    const res = await alice.get('/api/v1/me');
    expect(res.status).to.equal(200);
    expect(res.body.user).to.include({ username: 'alice', display_name: 'alice', disabled: false });
    expect(res.body).to.include({ admin: false, password_change_required: false });
    expect(res.body.authentication).to.deep.equal({ method: 'session', recent: true, token: null });
  });

  it('a state change without X-CSRF-Token is refused (403) and changes nothing; with it, it works', async () => {
    const other = await signedIn(doc, app.url, 'alice', GOOD_PASSWORD);
    expect(liveSessions()).to.equal(2);
    for (const csrf of [false, 'wrong-token'] as const) {
      const res = await alice.post('/api/v1/me/sessions/revoke-others', undefined, { csrf });
      expect(res.status).to.equal(403);
      expect(res.body.error.code).to.equal('csrf-invalid');
      expect(liveSessions()).to.equal(2);
    }
    const ok = await alice.post('/api/v1/me/sessions/revoke-others');
    expect(ok.status).to.equal(200);
    expect(ok.body.sessions_revoked).to.equal(1);
    expect((await alice.get('/api/v1/me')).status, 'the calling session stays').to.equal(200);
    expect((await other.get('/api/v1/me')).status).to.equal(401);
  });

  it('a cross-site request is refused even with a valid CSRF token', async () => {
    const token = await alice.csrf();
    const attempts: Array<Record<string, string>> = [{ 'sec-fetch-site': 'cross-site' }, { origin: 'https://evil.example' }, { 'sec-fetch-site': 'same-site' }];
    for (const headers of attempts) {
      const res = await alice.post('/api/v1/me/sessions/revoke-others', undefined, { csrf: token, headers });
      expect(res.status).to.equal(403);
      expect(res.body.error.code).to.equal('cross-site-request');
    }
    const created = await alice.post('/api/v1/me/tokens', { name: 'x', scope: 'read', expires_in_days: 1 }, { headers: { origin: 'https://evil.example' } });
    expect(created.status).to.equal(403);
    expect(app.ctx.tokens.list(app.ctx.users.findByUsername('alice')!.id)).to.have.length(0);
  });

  it('lists own sessions with this device first and ends one by handle; others’ handles are 404', async () => {
    const phone = await signedIn(doc, app.url, 'alice', GOOD_PASSWORD, { 'user-agent': 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Version/17.0 Mobile/15E148 Safari/604.1' });
    const res = await alice.get('/api/v1/me/sessions');
    expect(res.body.sessions).to.have.length(2);
    expect(res.body.sessions[0].current).to.equal(true);
    const phoneHandle = res.body.sessions.find((s: { current: boolean }) => !s.current).handle as string;
    expect((await alice.delete(`/api/v1/me/sessions/${phoneHandle}`)).status).to.equal(204);
    expect((await phone.get('/api/v1/me')).status).to.equal(401);
    const after = await alice.get('/api/v1/me/sessions');
    expect(after.body.sessions).to.have.length(1);
    expect(after.body.ended[0]).to.include({ handle: phoneHandle, end_reason: 'revoked' });

    await addUser(app.ctx, 'bob');
    const bob = await signedIn(doc, app.url, 'bob', GOOD_PASSWORD);
    const bobHandle = (await bob.get('/api/v1/me/sessions')).body.sessions[0].handle as string;
    expect((await alice.delete(`/api/v1/me/sessions/${bobHandle}`)).status).to.equal(404);
    expect((await bob.get('/api/v1/me')).status).to.equal(200);
    const malformed = await alice.delete('/api/v1/me/sessions/not-a-handle');
    expect(malformed.status).to.equal(400);
    expect(malformed.body.error.code).to.equal('invalid-parameter');
  });

  it('accepts an 8-character password once the account has a second factor (NIST), not before', async () => {
    const short = await alice.put('/api/v1/me/password', { current_password: GOOD_PASSWORD, new_password: 'quokkaly' });
    expect(short.status).to.equal(400);
    const user = app.ctx.users.findByUsername('alice')!;
    const { secret } = await app.ctx.twoFactor.totp.begin(user);
    expect(app.ctx.twoFactor.totp.confirm(user, codeAt(secret, clock.now())).ok).to.equal(true);
    clock.advance(90_000);
    // This session signed in before the factor existed: it must pass the factor first.
    const refused = await alice.put('/api/v1/me/password', { current_password: GOOD_PASSWORD, new_password: 'quokkaly' });
    expect(refused.status).to.equal(403);
    expect(refused.body.error.code).to.equal('second-factor-required');
    const b = alice.browser;
    expect((await b.post('/login/second-factor', { _csrf: await b.csrf('/login/second-factor'), code: codeAt(secret, clock.now()) })).status).to.equal(303);
    const ok = await new Api(doc, b).put('/api/v1/me/password', { current_password: GOOD_PASSWORD, new_password: 'quokkaly' });
    expect(ok.status, ok.text).to.equal(200);
  });

  it('changes the password with the current one: other sessions end, this one stays', async () => {
    const other = await signedIn(doc, app.url, 'alice', GOOD_PASSWORD);
    const wrong = await alice.put('/api/v1/me/password', { current_password: 'not my password at all', new_password: NEW_PASSWORD });
    expect(wrong.status).to.equal(403);
    expect(wrong.body.error.code).to.equal('wrong-password');
    const weak = await alice.put('/api/v1/me/password', { current_password: GOOD_PASSWORD, new_password: 'short' });
    expect(weak.status).to.equal(400);
    expect((await other.get('/api/v1/me')).status, 'nothing changed yet').to.equal(200);

    const cookieBefore = alice.browser.cookieHeader();
    const ok = await alice.put('/api/v1/me/password', { current_password: GOOD_PASSWORD, new_password: NEW_PASSWORD });
    expect(ok.status).to.equal(200);
    expect(ok.body.sessions_revoked).to.equal(1);
    expect((await alice.get('/api/v1/me')).status).to.equal(200);
    // This session continues under a new ID: the cookie from before the change is dead.
    expect(alice.browser.cookieHeader()).not.to.equal(cookieBefore);
    expect((await new Browser(app.url).get('/api/v1/me', { cookie: cookieBefore })).status).to.equal(401);
    expect((await alice.post('/api/v1/me/sessions/revoke-others')).status, 'the new CSRF token works').to.equal(200);
    expect((await other.get('/api/v1/me')).status).to.equal(401);
    expect(await app.ctx.accounts.checkPassword(app.ctx.users.findByUsername('alice')!.id, NEW_PASSWORD)).to.equal(true);
    expect(recentAudit(app.ctx, 1, 'password-changed')[0]?.details).to.include({ by: 'api:alice' });
  });

  it('wrong passwords are throttled (429 with Retry-After)', async () => {
    let last;
    for (let i = 0; i < 30; i++) {
      last = await alice.post('/api/v1/me/reauth', { password: `wrong password number ${i}` });
      if (last.status === 429) break;
      expect(last.status).to.equal(403);
    }
    expect(last?.status).to.equal(429);
    expect(last?.body.error.code).to.equal('throttled');
  });

  it('re-authentication makes the session recent again for ten minutes', async () => {
    clock.advance(11 * 60_000);
    expect((await alice.get('/api/v1/me')).body.authentication.recent).to.equal(false);
    const res = await alice.post('/api/v1/me/reauth', { password: GOOD_PASSWORD });
    expect(res.status).to.equal(200);
    expect(res.body).to.deep.include({ authenticated_at: new Date(clock.now()).toISOString(), recent_until: new Date(clock.now() + 600_000).toISOString() });
    expect(res.body.csrf_token, 'a new CSRF token for the renewed session').to.be.a('string');
    expect((await alice.get('/api/v1/me')).body.authentication.recent).to.equal(true);
  });

  it('exports personal data (audited) without secrets', async () => {
    const secret = await createToken(alice, 'read');
    const res = await alice.get('/api/v1/me/data');
    expect(res.status).to.equal(200);
    expect(res.body.profile.username).to.equal('alice');
    expect(res.body.api_tokens).to.have.length(1);
    expect(res.text).to.not.include(secret);
    expect(res.text).to.not.match(/argon2/);
    expect(recentAudit(app.ctx, 1, 'personal-data-exported')).to.have.length(1);
  });

  it('asks for deletion with the password, and withdraws it', async () => {
    const wrong = await alice.post('/api/v1/me/deletion-request', { password: 'definitely not it' });
    expect(wrong.status).to.equal(403);
    const res = await alice.post('/api/v1/me/deletion-request', { password: GOOD_PASSWORD });
    expect(res.status).to.equal(200);
    expect(res.body.deletion_requested_at).to.equal(new Date(clock.now()).toISOString());
    expect((await alice.get('/api/v1/me')).body.user.deletion_requested_at).to.equal(res.body.deletion_requested_at);
    expect((await alice.delete('/api/v1/me/deletion-request')).status).to.equal(204);
    expect((await alice.get('/api/v1/me')).body.user.deletion_requested_at).to.equal(null);
  });

  it('a user who must change their password may only read /me and change it; the reset revoked their tokens', async () => {
    const secret = await createToken(alice, 'write');
    await app.ctx.accounts.setPassword('alice', NEW_PASSWORD, 'test', { reset: true });
    alice = await signedIn(doc, app.url, 'alice', NEW_PASSWORD);
    const me = await alice.get('/api/v1/me');
    expect(me.status).to.equal(200);
    expect(me.body.password_change_required).to.equal(true);
    const refused = await alice.get('/api/v1/me/sessions');
    expect(refused.status).to.equal(403);
    expect(refused.body.error.code).to.equal('password-change-required');
    const token = Api.withToken(doc, app.url, secret);
    expect((await token.get('/api/v1/me/sessions')).status, 'revoked by the reset').to.equal(401);
    expect((await alice.post('/api/v1/me/tokens', { name: 'new', scope: 'read', expires_in_days: 30 })).status).to.equal(403);

    const changed = await alice.put('/api/v1/me/password', { current_password: NEW_PASSWORD, new_password: 'amber lanterns drift over harbours' });
    expect(changed.status).to.equal(200);
    expect((await alice.get('/api/v1/me/sessions')).status).to.equal(200);
    expect((await token.get('/api/v1/me/sessions')).status).to.equal(401);
  });

  it('a disabled user’s session and tokens stop working at once, and enabling the account does not bring the tokens back', async () => {
    const secret = await createToken(alice, 'read');
    await addUser(app.ctx, 'root', { groups: ['admins'] });
    expect(app.ctx.accounts.disable('alice', 'test')).to.include({ tokensRevoked: 1 });
    expect((await alice.get('/api/v1/me')).status).to.equal(401);
    expect((await Api.withToken(doc, app.url, secret).get('/api/v1/me')).status).to.equal(401);
    app.ctx.accounts.enable('alice', 'test');
    expect((await Api.withToken(doc, app.url, secret).get('/api/v1/me')).status).to.equal(401);
    expect(app.ctx.tokens.list(app.ctx.users.findByUsername('alice')!.id)[0]?.revokedAt).to.be.a('number');
  });
});
