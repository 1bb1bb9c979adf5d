// The admin API: users (create, page, show, change, reset password, disable, enable,
// delete, last-admin protection), the recent-authentication rule for cookie sessions
// (admin tokens exempt), everyone's sessions, the audit log's pages, and bans.

import { expect } from 'chai';
import { FakeClock } from '../../support/clock.js';
import { addUser, GOOD_PASSWORD, startApp, type TestApp } from '../../support/harness.js';
import { Api, ApiDoc, createToken, signedIn } from '../../support/openapi.js';
import { recentAudit } from '../../support/audit.js';

const OTHER_PASSWORD = 'violet submarine orbits quietly';

describe('API: administration', () => {
  let app: TestApp;
  let doc: ApiDoc;
  let clock: FakeClock;
  let root: Api;

  beforeEach(async () => {
    clock = new FakeClock();
    app = await startApp({ clock });
    await addUser(app.ctx, 'root', { groups: ['admins'] });
    doc = await ApiDoc.fetch(app.url);
    root = await signedIn(doc, app.url, 'root', GOOD_PASSWORD);
  });
  afterEach(() => app.close());

  it('creates, shows, changes, resets, disables, enables and deletes a user', async () => {
    const created = await root.post('/api/v1/users', { username: 'Carol', password: OTHER_PASSWORD, display_name: 'Carol K', email: 'carol@home.example', groups: ['family'] });
    expect(created.status).to.equal(201);
    expect(created.headers.get('location')).to.equal('/api/v1/users/carol');
    expect(created.body.user).to.include({ username: 'carol', display_name: 'Carol K', email: 'carol@home.example' });
    expect(recentAudit(app.ctx, 1, 'user-created')[0]?.details).to.include({ by: 'api:root' });

    const dup = await root.post('/api/v1/users', { username: 'carol', password: OTHER_PASSWORD });
    expect(dup.status).to.equal(409);
    expect(dup.body.error.code).to.equal('user-exists');
    const weak = await root.post('/api/v1/users', { username: 'dave', password: 'password' });
    expect(weak.status).to.equal(400);

    expect((await root.get('/api/v1/users/carol')).body.user.groups).to.deep.equal(['family']);
    expect((await root.get('/api/v1/users/nobody')).status).to.equal(404);

    const patched = await root.patch('/api/v1/users/carol', { email: null, groups: ['family', 'media'] });
    expect(patched.status).to.equal(200);
    expect(patched.body.user).to.include({ email: null, display_name: 'Carol K' });
    expect(patched.body.user.groups).to.deep.equal(['family', 'media']);
    expect((await root.patch('/api/v1/users/carol', {})).status, 'an empty change').to.equal(400);

    const carol = await signedIn(doc, app.url, 'carol', OTHER_PASSWORD);
    const reset = await root.put('/api/v1/users/carol/password', { password: 'amber lanterns drift over harbours' });
    expect(reset.status).to.equal(200);
    expect(reset.body.sessions_revoked).to.equal(1);
    expect(reset.body.user.must_change_password).to.equal(true);
    expect((await carol.get('/api/v1/me')).status).to.equal(401);
    expect((await root.get('/api/v1/users/carol')).body.user.must_change_password).to.equal(true);

    const disabled = await root.post('/api/v1/users/carol/disable');
    expect(disabled.status).to.equal(200);
    expect(disabled.body.user.disabled).to.equal(true);
    expect(disabled.body.tokens_revoked).to.equal(0);
    const enabled = await root.post('/api/v1/users/carol/enable');
    expect(enabled.body.user.disabled).to.equal(false);

    expect((await root.delete('/api/v1/users/carol')).status).to.equal(204);
    expect((await root.get('/api/v1/users/carol')).status).to.equal(404);
    expect(recentAudit(app.ctx, 1, 'user-deleted')[0]?.details).to.include({ by: 'api:root' });
  });

  it('will not disable, demote or delete the last enabled administrator (409 last-admin)', async () => {
    for (const res of [
      await root.post('/api/v1/users/root/disable'),
      await root.patch('/api/v1/users/root', { groups: [] }),
      await root.delete('/api/v1/users/root'),
    ]) {
      expect(res.status).to.equal(409);
      expect(res.body.error.code).to.equal('last-admin');
    }
    expect(app.ctx.users.findByUsername('root')).to.include({ disabled: false });
  });

  it('pages users with limit and offset', async () => {
    for (const name of ['u1', 'u2', 'u3', 'u4']) await addUser(app.ctx, name);
    const first = await root.get('/api/v1/users?limit=2');
    expect(first.body).to.include({ total: 5, limit: 2, offset: 0, next_offset: 2 });
    expect(first.body.users.map((u: { username: string }) => u.username)).to.deep.equal(['root', 'u1']);
    const last = await root.get('/api/v1/users?limit=2&offset=4');
    expect(last.body.users.map((u: { username: string }) => u.username)).to.deep.equal(['u4']);
    expect(last.body.next_offset).to.equal(null);
    for (const bad of ['limit=0', 'limit=201', 'limit=abc', 'limit=1&limit=2', 'offset=-1', 'sort=name']) {
      const res = await root.get(`/api/v1/users?${bad}`);
      expect(res.status, bad).to.equal(400);
      expect(res.body.error.code).to.equal('invalid-query');
    }
  });

  it('dangerous operations need a recent authentication with the cookie; reauth unlocks them', async () => {
    await addUser(app.ctx, 'carol');
    clock.advance(11 * 60_000);
    const adminToken = await (async () => {
      // A token made while recent; tokens are exempt from the rule.
      const fresh = await signedIn(doc, app.url, 'root', GOOD_PASSWORD);
      return createToken(fresh, 'admin');
    })();
    clock.advance(11 * 60_000);
    root = await signedIn(doc, app.url, 'root', GOOD_PASSWORD);
    clock.advance(11 * 60_000);
    const stale = [
      await root.post('/api/v1/users', { username: 'dave', password: OTHER_PASSWORD }),
      await root.patch('/api/v1/users/carol', { display_name: 'C' }),
      await root.put('/api/v1/users/carol/password', { password: OTHER_PASSWORD }),
      await root.post('/api/v1/users/carol/disable'),
      await root.post('/api/v1/users/carol/enable'),
      await root.post('/api/v1/users/carol/reset-two-factor'),
      await root.delete('/api/v1/users/carol'),
    ];
    for (const res of stale) {
      expect(res.status).to.equal(403);
      expect(res.body.error.code).to.equal('reauth-required');
    }
    expect(app.ctx.users.findByUsername('carol')).to.include({ displayName: 'carol', disabled: false });
    expect((await root.get('/api/v1/users')).status, 'reading needs no reauth').to.equal(200);

    expect((await root.post('/api/v1/me/reauth', { password: GOOD_PASSWORD })).status).to.equal(200);
    expect((await root.patch('/api/v1/users/carol', { display_name: 'C' })).status).to.equal(200);

    const token = Api.withToken(doc, app.url, adminToken);
    const viaToken = await token.post('/api/v1/users/carol/disable');
    expect(viaToken.status).to.equal(200);
    const id = (await token.get('/api/v1/me')).body.authentication.token.id as number;
    expect(recentAudit(app.ctx, 1, 'user-disabled')[0]?.details).to.include({ by: `token:${id}` });
  });

  it('lists live and ended sessions, filtered by user, and ends one by handle', async () => {
    await addUser(app.ctx, 'carol');
    const carol = await signedIn(doc, app.url, 'carol', GOOD_PASSWORD);
    const all = await root.get('/api/v1/sessions');
    expect(all.body.sessions.map((s: { username: string }) => s.username).sort()).to.deep.equal(['carol', 'root']);
    const mine = await root.get('/api/v1/sessions?user=carol');
    expect(mine.body.sessions).to.have.length(1);
    const handle = mine.body.sessions[0].handle as string;
    expect((await root.delete(`/api/v1/sessions/${handle}`)).status).to.equal(204);
    expect((await carol.get('/api/v1/me')).status).to.equal(401);
    expect((await root.delete(`/api/v1/sessions/${handle}`)).status, 'already ended').to.equal(404);
    const ended = await root.get('/api/v1/sessions?user=carol&state=ended');
    expect(ended.body.sessions[0]).to.include({ handle, end_reason: 'revoked' });
    expect((await root.get('/api/v1/sessions?user=nobody')).status).to.equal(404);
    expect((await root.get('/api/v1/sessions?state=all')).status).to.equal(400);
    expect((await root.delete('/api/v1/sessions/xyz')).status).to.equal(400);
  });

  it('pages the audit log with next/before and filters it', async () => {
    for (let i = 0; i < 5; i++) {
      clock.advance(1000);
      // Five usernames: repeats of one would be coalesced into one entry.
      app.ctx.audit.loginFailed({ username: `ghost${i}`, ip: '203.0.113.5', reason: 'bad-credentials' });
    }
    const seen: number[] = [];
    let next: number | null = null;
    do {
      const res: { body: { entries: Array<{ id: number; username: string }>; next: number | null } } = await root.get(`/api/v1/audit?event=login-failed&limit=2${next ? `&before=${next}` : ''}`);
      expect(res.body.entries.length).to.be.at.most(2);
      seen.push(...res.body.entries.map((e) => e.id));
      next = res.body.next;
    } while (next !== null);
    expect(seen).to.have.length(5);
    expect([...seen].sort((a, b) => b - a)).to.deep.equal(seen);

    const byUser = await root.get('/api/v1/audit?user=root&event=login-succeeded');
    expect(byUser.body.entries).to.have.length(1);
    const byIp = await root.get('/api/v1/audit?ip=203.0.113.5');
    expect(byIp.body.entries).to.have.length(5);
    const from = new Date(clock.now() - 1500).toISOString();
    expect((await root.get(`/api/v1/audit?event=login-failed&from=${from}`)).body.entries).to.have.length(2);
    expect((await root.get(`/api/v1/audit?event=login-failed&to=${encodeURIComponent(from)}`)).body.entries).to.have.length(3);
    for (const bad of ['from=yesterday', 'ip=not-an-ip', 'limit=501', 'before=0', 'user=a%00b', 'event=']) {
      const res = await root.get(`/api/v1/audit?${bad}`);
      expect(res.status, bad).to.equal(400);
    }
  });

  it('lists bans and lifts them', async () => {
    // Fail sign-ins for one address until it is banned (backoff waits are skipped with the clock).
    const ip = '203.0.113.66';
    for (let i = 0; i < 200 && app.ctx.regulator.listBans().length === 0; i++) {
      const verdict = app.ctx.regulator.check(ip, `guess${i}`);
      if (verdict.allowed) verdict.attempt.failed();
      else clock.advance(verdict.retryAfter * 1000);
    }
    const list = await root.get('/api/v1/bans');
    expect(list.body.bans.length).to.be.greaterThan(0);
    expect(list.body.bans[0]).to.include({ scope: 'ip', ip });
    expect((await root.delete(`/api/v1/bans/${ip}`)).status).to.equal(204);
    expect((await root.get('/api/v1/bans')).body.bans).to.deep.equal([]);
    expect(recentAudit(app.ctx, 1, 'ban-lifted')[0]?.details).to.include({ by: 'api:root' });
    expect((await root.delete(`/api/v1/bans/${ip}`)).status, 'nothing left to lift').to.equal(404);
    expect((await root.delete('/api/v1/bans/%E2%80%8Broot')).status, 'zero-width space').to.equal(400);
    expect((await root.delete(`/api/v1/bans/${encodeURIComponent('2001:db8::/64')}`)).status).to.equal(404);
  });
});
