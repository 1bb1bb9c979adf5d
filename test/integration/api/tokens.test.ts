// API tokens on /api/v1: created once by a signed-in user, scoped read < write < admin
// (admin also needs the admins group), expiring, revocable, last use recorded; tokens
// cannot mint tokens; bad tokens are 401 with a Bearer challenge.

import { expect } from 'chai';
import { Browser } from '../../support/browser.js';
import { FakeClock } from '../../support/clock.js';
import { addUser, GOOD_PASSWORD, startApp, type TestApp } from '../../support/harness.js';
import { Api, ApiDoc, createToken, signedIn } from '../../support/openapi.js';
import { recentAudit } from '../../support/audit.js';

const DAY = 86_400_000;

describe('API tokens', () => {
  let app: TestApp;
  let doc: ApiDoc;
  let clock: FakeClock;
  let alice: Api;

  beforeEach(async () => {
    clock = new FakeClock();
    app = await startApp({ clock });
    await addUser(app.ctx, 'alice');
    await addUser(app.ctx, 'root', { groups: ['admins'] });
    doc = await ApiDoc.fetch(app.url);
    alice = await signedIn(doc, app.url, 'alice', GOOD_PASSWORD);
  });
  afterEach(() => app.close());

  const withToken = (token: string) => Api.withToken(doc, app.url, token);

  it('creates a token shown once; listings show only its hint, never the secret', async () => {
    const res = await alice.post('/api/v1/me/tokens', { name: 'backup script', scope: 'read', expires_in_days: 30 });
    expect(res.status).to.equal(201);
    expect(res.body.token).to.match(/^gth_[A-Za-z0-9_-]{43}$/);
    expect(res.body).to.include({ name: 'backup script', scope: 'read', state: 'live' });
    expect(res.body.expires_at).to.equal(new Date(clock.now() + 30 * DAY).toISOString());
    const list = await alice.get('/api/v1/me/tokens');
    expect(list.body.tokens).to.have.length(1);
    expect(list.text).to.not.include(res.body.token);
    expect(res.body.token.startsWith(list.body.tokens[0].hint)).to.equal(true);
    const audit = recentAudit(app.ctx, 5, 'api-token-created')[0];
    expect(audit?.details).to.include({ scope: 'read', by: 'api:alice' });
    expect(JSON.stringify(recentAudit(app.ctx, 100))).to.not.include(res.body.token);
  });

  it('a read token can GET /me but cannot end a session (403 insufficient-scope); a write token can', async () => {
    const read = withToken(await createToken(alice, 'read'));
    const me = await read.get('/api/v1/me');
    expect(me.status).to.equal(200);
    expect(me.body.user.username).to.equal('alice');
    expect(me.body.authentication).to.include({ method: 'token' });
    expect(me.body.authentication.token.scope).to.equal('read');

    const sessions = await read.get('/api/v1/me/sessions');
    expect(sessions.body.sessions).to.have.length(1);
    expect(sessions.body.sessions[0].current, 'a token has no "this device"').to.equal(false);
    const handle = sessions.body.sessions[0].handle as string;

    const refused = await read.delete(`/api/v1/me/sessions/${handle}`);
    expect(refused.status).to.equal(403);
    expect(refused.body.error.code).to.equal('insufficient-scope');
    expect((await alice.get('/api/v1/me')).status, 'the session still works').to.equal(200);

    const write = withToken(await createToken(alice, 'write'));
    expect((await write.delete(`/api/v1/me/sessions/${handle}`)).status).to.equal(204);
    expect((await alice.get('/api/v1/me')).status, 'the session ended').to.equal(401);
  });

  it('a token cannot mint tokens, change the password or re-authenticate (403 session-required)', async () => {
    const write = withToken(await createToken(alice, 'write'));
    const attempts = [
      await write.post('/api/v1/me/tokens', { name: 'child', scope: 'read', expires_in_days: 1 }),
      await write.put('/api/v1/me/password', { current_password: GOOD_PASSWORD, new_password: 'violet submarine orbits quietly' }),
      await write.post('/api/v1/me/reauth', { password: GOOD_PASSWORD }),
      await write.get('/api/v1/csrf'),
    ];
    for (const res of attempts) {
      expect(res.status).to.equal(403);
      expect(res.body.error.code).to.equal('session-required');
    }
    expect(app.ctx.tokens.list(app.ctx.users.findByUsername('alice')!.id)).to.have.length(1);
  });

  it('the admin scope is for administrators only', async () => {
    const refused = await alice.post('/api/v1/me/tokens', { name: 'x', scope: 'admin', expires_in_days: 1 });
    expect(refused.status).to.equal(403);
    expect(refused.body.error.code).to.equal('forbidden');
    const root = await signedIn(doc, app.url, 'root', GOOD_PASSWORD);
    expect((await root.post('/api/v1/me/tokens', { name: 'x', scope: 'admin', expires_in_days: 1 })).status).to.equal(201);
  });

  it('admin endpoints need the admin scope AND membership of admins', async () => {
    const root = await signedIn(doc, app.url, 'root', GOOD_PASSWORD);
    const writeToken = withToken(await createToken(root, 'write'));
    const writeRes = await writeToken.get('/api/v1/users');
    expect(writeRes.status).to.equal(403);
    expect(writeRes.body.error.code).to.equal('insufficient-scope');

    const adminToken = withToken(await createToken(root, 'admin'));
    expect((await adminToken.get('/api/v1/users')).status).to.equal(200);
    // Another administrator, then root leaves the admins group: the admin token stops working.
    await addUser(app.ctx, 'second', { groups: ['admins'] });
    app.ctx.accounts.update('root', { groups: [] }, 'test');
    const after = await adminToken.get('/api/v1/users');
    expect(after.status).to.equal(403);
    expect(after.body.error.code).to.equal('forbidden');
    expect((await adminToken.get('/api/v1/me')).status, 'still good for its own account').to.equal(200);
  });

  it('revoked, expired and malformed tokens are 401 with a Bearer challenge', async () => {
    const secret = await createToken(alice, 'read', 'short', 1);
    const token = withToken(secret);
    expect((await token.get('/api/v1/me')).status).to.equal(200);

    const malformed = ['gth_short', 'nonsense', `${secret}x`, `gth_${'A'.repeat(43)}`];
    for (const bad of malformed) {
      const res = await withToken(bad).get('/api/v1/me');
      expect(res.status, bad).to.equal(401);
      expect(res.body.error.code).to.equal('invalid-token');
      expect(res.headers.get('www-authenticate')).to.match(/error="invalid_token"/);
    }
    const basic = await new Api(doc, new Browser(app.url)).get('/api/v1/me', { headers: { authorization: 'Basic YWxpY2U6eA==' } });
    expect(basic.status).to.equal(401);

    clock.advance(DAY + 1);
    const expired = await token.get('/api/v1/me');
    expect(expired.status).to.equal(401);
    alice = await signedIn(doc, app.url, 'alice', GOOD_PASSWORD); // the old session idled out
    expect((await alice.get('/api/v1/me/tokens')).body.tokens[0].state).to.equal('expired');

    const second = await createToken(alice, 'write');
    const id = (await alice.get('/api/v1/me/tokens')).body.tokens[0].id as number;
    expect((await alice.delete(`/api/v1/me/tokens/${id}`)).status).to.equal(204);
    const revoked = await withToken(second).get('/api/v1/me');
    expect(revoked.status).to.equal(401);
    expect((await alice.get('/api/v1/me/tokens')).body.tokens[0].state).to.equal('revoked');
  });

  it('records last use (time and address), written at most once a minute', async () => {
    const secret = await createToken(alice, 'read');
    const token = new Api(doc, new Browser(app.url, { 'x-forwarded-for': '192.168.1.20' }), secret);
    const list = async () => (await alice.get('/api/v1/me/tokens')).body.tokens[0];
    expect((await list()).last_used_at).to.equal(null);
    await token.get('/api/v1/me');
    const first = await list();
    expect(first.last_used_at).to.equal(new Date(clock.now()).toISOString());
    // The test server trusts loopback proxies, so the forwarded address is the client's.
    expect(first.last_used_ip).to.equal('192.168.1.20');
    clock.advance(30_000);
    await token.get('/api/v1/me');
    expect((await list()).last_used_at, 'coalesced').to.equal(first.last_used_at);
    clock.advance(31_000);
    await token.get('/api/v1/me');
    expect((await list()).last_used_at).to.equal(new Date(clock.now()).toISOString());
  });

  it('one user cannot revoke another user’s token (404, nothing changed)', async () => {
    const root = await signedIn(doc, app.url, 'root', GOOD_PASSWORD);
    await createToken(root, 'read');
    const rootTokenId = (await root.get('/api/v1/me/tokens')).body.tokens[0].id as number;
    const res = await alice.delete(`/api/v1/me/tokens/${rootTokenId}`);
    expect(res.status).to.equal(404);
    expect((await root.get('/api/v1/me/tokens')).body.tokens[0].state).to.equal('live');
  });

  it('validates token creation: names, scopes, lifetimes, unknown fields', async () => {
    const bad = [
      { name: '', scope: 'read', expires_in_days: 1 },
      { name: 'a\u0000b', scope: 'read', expires_in_days: 1 },
      { name: 'x'.repeat(65), scope: 'read', expires_in_days: 1 },
      { name: 'x', scope: 'root', expires_in_days: 1 },
      { name: 'x', scope: 'read', expires_in_days: 0 },
      { name: 'x', scope: 'read', expires_in_days: 367 },
      { name: 'x', scope: 'read', expires_in_days: '30' },
      { name: 'x', scope: 'read', expires_in_days: 1, extra: true },
      { name: ['x'], scope: 'read', expires_in_days: 1 },
    ];
    for (const body of bad) {
      const res = await alice.post('/api/v1/me/tokens', body);
      expect(res.status, JSON.stringify(body)).to.equal(400);
      expect(res.body.error.code).to.equal('invalid-body');
    }
    expect((await alice.get('/api/v1/me/tokens')).body.tokens).to.have.length(0);
  });
});
