// Resetting a user's second factors on /admin/users/:username (a lost phone): shown with
// the user's two-factor status, administrators only, a dangerous action (CSRF, recent
// authentication), audited with the administrator's name, ending the user's sessions; an
// admin's password reset of such a user follows the 8-character minimum.

import { expect } from 'chai';
import type { User } from '../../../src/users/repository.js';
import { Browser } from '../../support/browser.js';
import { answerPrompt } from '../../support/reauth-prompt.js';
import { codeAt } from '../../unit/twofactor/support.js';
import { flashes, signIn, startAdminApp, submit, type AdminApp } from './admin-support.js';
import { recentAudit } from '../../support/audit.js';

const ELEVEN_MINUTES = 11 * 60_000;
const RESET = '/admin/users/alice/reset-two-factor';

describe('admin: reset a user\'s second factors', () => {
  let app: AdminApp;
  let alice: User;
  let secret: string;
  beforeEach(async () => {
    app = await startAdminApp();
    alice = app.ctx.users.findByUsername('alice') as User;
    ({ secret } = await app.ctx.twoFactor.totp.begin(alice));
    expect(app.ctx.twoFactor.totp.confirm(alice, codeAt(secret, app.clock.now())).ok).to.equal(true);
    app.ctx.twoFactor.recoveryCodes.generate(alice, 'user:alice');
  });
  afterEach(() => app.close());

  const state = () => JSON.stringify(app.ctx.twoFactor.status(alice.id));

  it('shows the status and the reset form; the reset removes the app and the codes, audited as the admin', async () => {
    const admin = await signIn(app, 'root');
    const page = await admin.get('/admin/users/alice');
    expect(page.text).to.match(/Two-factor sign-in<\/dt>\s*<dd>on · app, 0 passkey\(s\), 10 recovery code\(s\) left/);
    expect(page.text).to.contain(`action="${RESET}"`);
    const res = await submit(admin, '/admin/users/alice', RESET);
    expect(res.status).to.equal(303);
    expect(res.location).to.equal('/admin/users/alice');
    expect(app.ctx.twoFactor.status(alice.id)).to.include({ enabled: false, totp: 'none', recoveryCodesRemaining: 0 });
    const after = await admin.get('/admin/users/alice');
    expect(flashes(after)[0]).to.contain('Removed the authenticator app and 10 recovery code(s) of alice');
    expect(after.text).not.to.contain(`action="${RESET}"`);
    const event = recentAudit(app.ctx, 10).find((e) => e.event === 'second-factor-reset');
    expect(event?.username).to.equal('alice');
    expect(event?.details).to.include({ by: 'admin:root', totp: true, recovery_codes: 10 });
  });

  it('ends every session of the user (reason second-factor-reset), audited with the passkeys and sessions', async () => {
    app.clock.advance(90_000);
    const phone = await signIn(app, 'alice');
    const step = await phone.post('/login/second-factor', { _csrf: await phone.csrf('/login/second-factor'), code: codeAt(secret, app.clock.now()) });
    expect(step.status).to.equal(303);
    expect((await phone.get('/account')).status).to.equal(200);
    const admin = await signIn(app, 'root');
    expect((await submit(admin, '/admin/users/alice', RESET)).status).to.equal(303);
    expect(flashes(await admin.get('/admin/users/alice'))[0]).to.contain('of alice; 1 session(s) ended');
    expect((await phone.get('/account')).location).to.equal('/login');
    const reason = app.ctx.db.prepare("SELECT delete_reason FROM sessions WHERE user_id = ? AND delete_reason != 'regenerated'").pluck().all(alice.id);
    expect(reason).to.deep.equal(['second-factor-reset']);
    const event = recentAudit(app.ctx, 10).find((e) => e.event === 'second-factor-reset');
    expect(event?.details).to.include({ passkeys: 0, sessions_revoked: 1 });
  });

  it('an administrator resetting their own second factors stays signed in; their other sessions end', async () => {
    const other = await signIn(app, 'root');
    const admin = await signIn(app, 'root');
    expect((await submit(admin, '/admin/users/root', '/admin/users/root/reset-two-factor')).status).to.equal(303);
    expect((await admin.get('/admin')).status).to.equal(200);
    expect((await other.get('/admin')).location).to.equal('/login');
  });

  it('refuses a household member with 403 and changes nothing', async () => {
    await app.ctx.accounts.create({ username: 'bob', password: 'purple elephant dancing quietly', by: 'test' });
    const member = await signIn(app, 'bob', 'purple elephant dancing quietly');
    const token = await member.csrf('/account');
    const before = state();
    const res = await member.post(RESET, { _csrf: token });
    expect(res.status).to.equal(403);
    expect(state()).to.equal(before);
  });

  it('refuses without a valid CSRF token and changes nothing', async () => {
    const admin = await signIn(app, 'root');
    const before = state();
    expect((await admin.post(RESET, {})).status).to.equal(403);
    expect((await admin.post(RESET, { _csrf: 'forged' })).status).to.equal(403);
    expect(state()).to.equal(before);
  });

  it('asks an administrator whose sign-in is over 10 minutes old for the password first; then the reset goes on', async () => {
    const admin = await signIn(app, 'root');
    app.clock.advance(ELEVEN_MINUTES);
    const before = state();
    const res = await submit(admin, '/admin/users/alice', RESET);
    expect(res.status).to.equal(403);
    expect(state()).to.equal(before);
    // The action's address opened with GET is the user's page.
    expect((await admin.get(RESET)).location).to.equal('/admin/users/alice');
    const done = await answerPrompt(admin, res, 'correct horse battery staple');
    expect(done.status).to.equal(303);
    expect(done.location).to.equal('/admin/users/alice');
    expect(app.ctx.twoFactor.isEnabled(alice.id)).to.equal(false);
  });

  it('an admin password reset of a user with a second factor accepts 9 characters; without one, 14 are refused', async () => {
    const admin = await signIn(app, 'root');
    expect((await admin.get('/admin/users/alice')).text).to.match(/name="password"[^>]+minlength="8"/);
    const nine = await submit(admin, '/admin/users/alice', '/admin/users/alice/password', { password: 'mauve fjq', password_confirm: 'mauve fjq' });
    expect(nine.status).to.equal(303);
    const ops = app.ctx.users.findByUsername('ops') as User;
    expect(app.ctx.twoFactor.isEnabled(ops.id)).to.equal(false);
    const fourteen = await submit(admin, '/admin/users/ops', '/admin/users/ops/password', { password: 'quiet mauve fj', password_confirm: 'quiet mauve fj' });
    expect(fourteen.status).to.equal(400);
    expect(fourteen.text).to.contain('Use at least 15 characters');
  });

  it('is not reachable signed out', async () => {
    const res = await new Browser(app.url).post(RESET, {});
    expect(res.status).to.be.oneOf([401, 403]);
    expect(app.ctx.twoFactor.isEnabled(alice.id)).to.equal(true);
  });
});
