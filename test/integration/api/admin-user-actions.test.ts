// The admin API does what the admin pages do for one user: reset their second factors
// (ending their sessions, a dangerous operation) and decline their deletion request (a
// protective one); and every operation on one user answers the same shape, `{ "user": … }`
// with what it did beside it, as the OpenAPI document says (every answer is checked).

import { expect } from 'chai';
import type { User } from '../../../src/users/repository.js';
import { FakeClock } from '../../support/clock.js';
import { addUser, GOOD_PASSWORD, startApp, type TestApp } from '../../support/harness.js';
import { Api, ApiDoc, createToken, signedIn } from '../../support/openapi.js';
import { codeAt } from '../../unit/twofactor/support.js';
import { recentAudit } from '../../support/audit.js';

type Json = Record<string, unknown>;
const OTHER_PASSWORD = 'violet submarine orbits quietly';

describe('API: second factors, deletion requests and the shape of user answers', () => {
  let app: TestApp;
  let doc: ApiDoc;
  let clock: FakeClock;
  let root: Api;
  let alice: User;
  let aliceSecret: string;

  beforeEach(async () => {
    clock = new FakeClock();
    app = await startApp({ clock, config: { rate_limit: { max: 100_000 } } });
    await addUser(app.ctx, 'root', { groups: ['admins'] });
    alice = await addUser(app.ctx, 'alice');
    ({ secret: aliceSecret } = await app.ctx.twoFactor.totp.begin(alice));
    expect(app.ctx.twoFactor.totp.confirm(alice, codeAt(aliceSecret, clock.now())).ok).to.equal(true);
    app.ctx.twoFactor.recoveryCodes.generate(alice, 'user:alice');
    doc = await ApiDoc.fetch(app.url);
    root = await signedIn(doc, app.url, 'root', GOOD_PASSWORD);
  });
  afterEach(() => app.close());

  it('resets a user\'s second factors: app and codes removed, their sessions ended, audited as the caller', async () => {
    // Alice signs in on her phone with both steps (a later time step: codes are single-use).
    clock.advance(90_000);
    const phone = await signedIn(doc, app.url, 'alice', GOOD_PASSWORD);
    const step = await phone.browser.post('/login/second-factor', { _csrf: await phone.browser.csrf('/login/second-factor'), code: codeAt(aliceSecret, clock.now()) });
    expect(step.status).to.equal(303);
    expect((await phone.get('/api/v1/me')).status).to.equal(200);
    root = await signedIn(doc, app.url, 'root', GOOD_PASSWORD);
    const res = await root.post('/api/v1/users/alice/reset-two-factor');
    expect(res.status).to.equal(200);
    expect(res.body.user).to.include({ username: 'alice' });
    expect(res.body.removed).to.deep.equal({ totp: true, passkeys: 0, recovery_codes: 10 });
    expect(res.body.sessions_revoked).to.equal(1);
    expect(app.ctx.twoFactor.status(alice.id)).to.include({ enabled: false, totp: 'none', recoveryCodesRemaining: 0 });
    expect((await phone.get('/api/v1/me')).status, 'her session is dead').to.equal(401);
    expect(app.ctx.sessions.listEnded({ userId: alice.id })[0]).to.include({ deleteReason: 'second-factor-reset', endedBy: 'api:root' });
    const event = recentAudit(app.ctx, 5, 'second-factor-reset')[0];
    expect(event).to.include({ username: 'alice', ip: '127.0.0.1' });
    expect(event?.details).to.include({ by: 'api:root', totp: true, recovery_codes: 10, sessions_revoked: 1 });
    // Nothing left: a second reset removes nothing and says so.
    const again = await root.post('/api/v1/users/alice/reset-two-factor');
    expect(again.body.removed).to.deep.equal({ totp: false, passkeys: 0, recovery_codes: 0 });
    expect((await root.post('/api/v1/users/nobody/reset-two-factor')).status).to.equal(404);
  });

  it('resetting second factors follows the pages\' rules: a recent authentication with the cookie, the admin\'s own second factor', async () => {
    clock.advance(11 * 60_000);
    const stale = await root.post('/api/v1/users/alice/reset-two-factor');
    expect(stale.status).to.equal(403);
    expect(stale.body.error.code).to.equal('reauth-required');
    expect(app.ctx.twoFactor.isEnabled(alice.id)).to.equal(true);

    // An administrator who has a factor, in a password-only session (the factor came later,
    // from another device), must take the second step first.
    const passwordOnly = await signedIn(doc, app.url, 'root', GOOD_PASSWORD);
    await passwordOnly.csrf();
    const rootUser = app.ctx.users.findByUsername('root')!;
    const { secret } = await app.ctx.twoFactor.totp.begin(rootUser);
    expect(app.ctx.twoFactor.totp.confirm(rootUser, codeAt(secret, clock.now())).ok).to.equal(true);
    const refused = await passwordOnly.post('/api/v1/users/alice/reset-two-factor');
    expect(refused.status).to.equal(403);
    expect(refused.body.error.code).to.equal('second-factor-required');
    expect(app.ctx.twoFactor.isEnabled(alice.id)).to.equal(true);
  });

  it('an administrator resetting their own factors with the cookie keeps this session; with a token every session ends', async () => {
    const other = await signedIn(doc, app.url, 'root', GOOD_PASSWORD);
    const own = await root.post('/api/v1/users/root/reset-two-factor');
    expect(own.body.sessions_revoked).to.equal(1);
    expect((await root.get('/api/v1/me')).status).to.equal(200);
    expect((await other.get('/api/v1/me')).status).to.equal(401);

    const token = Api.withToken(doc, app.url, await createToken(root, 'admin'));
    const viaToken = await token.post('/api/v1/users/root/reset-two-factor');
    expect(viaToken.body.sessions_revoked).to.equal(1);
    expect((await root.get('/api/v1/me')).status).to.equal(401);
    expect((await token.get('/api/v1/me')).status, 'tokens are not sessions').to.equal(200);
  });

  it('declines a deletion request (no re-authentication: it only keeps the account); 409 when there is none', async () => {
    app.ctx.accounts.requestDeletion(alice.id, '192.0.2.1');
    clock.advance(11 * 60_000);
    const res = await root.delete('/api/v1/users/alice/deletion-request');
    expect(res.status).to.equal(200);
    expect(res.body.user).to.include({ username: 'alice', deletion_requested_at: null });
    expect(app.ctx.users.findByUsername('alice')?.deletionRequestedAt).to.equal(null);
    expect(recentAudit(app.ctx, 1)[0]).to.deep.include({ event: 'account-deletion-cancelled', username: 'alice' });
    expect(recentAudit(app.ctx, 1)[0]?.details).to.include({ by: 'api:root' });
    const again = await root.delete('/api/v1/users/alice/deletion-request');
    expect(again.status).to.equal(409);
    expect(again.body.error.code).to.equal('no-deletion-request');
    expect((await root.delete('/api/v1/users/nobody/deletion-request')).status).to.equal(404);
    expect(app.ctx.users.findByUsername('alice')).to.not.equal(null);
  });

  it('every operation on one user answers { user, …what it did }, never the bare user', async () => {
    app.ctx.accounts.requestDeletion(alice.id, '192.0.2.1');
    const calls: Array<[string, () => Promise<{ status: number; body: Json }>]> = [
      ['create', () => root.post('/api/v1/users', { username: 'carol', password: OTHER_PASSWORD })],
      ['show', () => root.get('/api/v1/users/alice')],
      ['patch', () => root.patch('/api/v1/users/alice', { display_name: 'Alice' })],
      ['password', () => root.put('/api/v1/users/alice/password', { password: OTHER_PASSWORD })],
      ['disable', () => root.post('/api/v1/users/alice/disable')],
      ['enable', () => root.post('/api/v1/users/alice/enable')],
      ['reset-two-factor', () => root.post('/api/v1/users/alice/reset-two-factor')],
      ['decline', () => root.delete('/api/v1/users/alice/deletion-request')],
    ];
    for (const [name, call] of calls) {
      const res = await call();
      expect(res.status, name).to.be.oneOf([200, 201]);
      const user = res.body.user as Json;
      expect(user, name).to.be.an('object');
      expect(user.username, name).to.equal(name === 'create' ? 'carol' : 'alice');
      expect(res.body, name).not.to.have.property('username');
    }
  });

  it('the document gives every 2xx answer about one user the `user` property, a User', () => {
    const components = (doc.doc.components as { schemas: Record<string, { properties?: Record<string, Json>; required?: string[] }> }).schemas;
    let checked = 0;
    for (const [path, ops] of Object.entries(doc.paths)) {
      if (!path.startsWith('/api/v1/users/{username}') && path !== '/api/v1/users') continue;
      for (const [method, op] of Object.entries(ops)) {
        if (path === '/api/v1/users' && method === 'get') continue; // the paged list: { users: [...] }
        for (const [status, response] of Object.entries(op.responses)) {
          if (!status.startsWith('2') || !response.content) continue;
          const name = String(response.content['application/json']?.schema.$ref).replace('#/components/schemas/', '');
          const schema = components[name];
          expect(schema?.required, `${method} ${path}`).to.include('user');
          expect(schema?.properties?.user, `${method} ${path}`).to.deep.equal({ $ref: '#/components/schemas/User' });
          checked += 1;
        }
      }
    }
    expect(checked).to.equal(8);
  });
});
