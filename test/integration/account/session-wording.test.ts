// The devices list on /account in words: only the current device is "this device", and an
// ended session says who ended it (the owner from another device, an administrator on the
// pages, the API or the command line), from the end reason and the recorded `by`.

import { expect } from 'chai';
import { addUser, GOOD_PASSWORD, type TestApp } from '../../support/harness.js';
import { submit } from '../admin/admin-support.js';
import { FIREFOX, handleFor, IPHONE, signedIn, startAccountApp } from './support.js';

/** The "Why" cell of the recently ended session with this handle's device. */
function whyOf(page: string, device: string): string {
  const ended = page.slice(page.indexOf('Recently ended sessions'));
  const row = [...ended.matchAll(/<tr>([\s\S]*?)<\/tr>/g)].map((m) => m[1] as string).find((r) => r.includes(device));
  return /data-label="Why">([^<]*)</.exec(row ?? '')?.[1] ?? '(no such row)';
}

describe('account page: who ended a session, and which device is this one', () => {
  let app: TestApp;
  let aliceId: number;
  beforeEach(async () => {
    app = await startAccountApp();
    aliceId = (await addUser(app.ctx, 'alice')).id;
    await addUser(app.ctx, 'root', { groups: ['admins'] });
  });
  afterEach(() => app.close());

  it('labels only the current device "this device"; another device\'s button just says Sign out, naming the device to screen readers', async () => {
    const laptop = await signedIn(app, 'alice', GOOD_PASSWORD, FIREFOX);
    await signedIn(app, 'alice', GOOD_PASSWORD, IPHONE);
    const page = (await laptop.get('/account')).text;
    const rows = [...page.slice(page.indexOf('id="devices"')).matchAll(/<tr( class="current")?>([\s\S]*?)<\/tr>/g)];
    const current = rows.find((r) => r[1])?.[2] ?? '';
    const other = rows.find((r) => !r[1] && r[2]?.includes('iPhone'))?.[2] ?? '';
    expect(current).to.match(/<button[^>]*>Sign out this device<\/button>/);
    expect(other).to.match(/<button[^>]*>Sign out<\/button>/);
    expect(other).not.to.contain('this device');
    expect(other).to.contain(`aria-label="Sign out Mobile Safari 17 on Apple iPhone (${handleFor(app, aliceId, IPHONE)})"`);
    expect(page.match(/Sign out this device/g)).to.have.length(1);
  });

  it('a session the owner ended from another device reads "Signed out from another device"', async () => {
    const laptop = await signedIn(app, 'alice', GOOD_PASSWORD, FIREFOX);
    await signedIn(app, 'alice', GOOD_PASSWORD, IPHONE);
    const handle = handleFor(app, aliceId, IPHONE);
    expect((await submit(laptop, '/account', `/account/sessions/${handle}/revoke`)).status).to.equal(303);
    expect(whyOf((await laptop.get('/account')).text, 'iPhone')).to.equal('Signed out from another device');
  });

  it('a session an administrator ended on the admin pages says so, with the administrator\'s name', async () => {
    const laptop = await signedIn(app, 'alice', GOOD_PASSWORD, FIREFOX);
    await signedIn(app, 'alice', GOOD_PASSWORD, IPHONE);
    const handle = handleFor(app, aliceId, IPHONE);
    const admin = await signedIn(app, 'root', GOOD_PASSWORD);
    expect((await submit(admin, '/admin/sessions', `/admin/sessions/${handle}/revoke`)).status).to.equal(303);
    const page = (await laptop.get('/account')).text;
    expect(whyOf(page, 'iPhone')).to.equal('Ended by an administrator (root)');
    expect(page).not.to.contain('Signed out from another device');
  });

  it('says an administrator ended it from the command line or through the API too', async () => {
    const laptop = await signedIn(app, 'alice', GOOD_PASSWORD, FIREFOX);
    await signedIn(app, 'alice', GOOD_PASSWORD, IPHONE);
    await signedIn(app, 'alice', GOOD_PASSWORD, 'Mozilla/5.0 (iPad; CPU OS 17_5 like Mac OS X)');
    app.ctx.sessions.revokeByHandle(handleFor(app, aliceId, IPHONE), 'revoked', 'cli:pat');
    app.ctx.sessions.revokeByHandle(handleFor(app, aliceId, 'Mozilla/5.0 (iPad; CPU OS 17_5 like Mac OS X)'), 'revoked', 'token:7');
    const page = (await laptop.get('/account')).text;
    expect(whyOf(page, 'iPhone')).to.equal('Ended by an administrator, on the command line');
    expect(whyOf(page, 'Browser on iOS')).to.equal('Ended by an administrator, through the API');
  });

  it('records who ended sessions in bulk (an administrator\'s password reset), and the list says so', async () => {
    const laptop = await signedIn(app, 'alice', GOOD_PASSWORD, FIREFOX);
    await signedIn(app, 'alice', GOOD_PASSWORD, IPHONE);
    // Alice signs out everywhere else: her own doing.
    expect((await submit(laptop, '/account', '/account/sessions/revoke-others')).status).to.equal(303);
    expect(whyOf((await laptop.get('/account')).text, 'iPhone')).to.equal('Signed out from another device');
    await app.ctx.accounts.setPassword('alice', 'amber lanterns drift over harbours', 'admin:root', { reset: true, hasSecondFactor: false });
    const ended = app.ctx.sessions.listEnded({ userId: aliceId });
    expect(ended.find((s) => s.deleteReason === 'password-changed')).to.include({ endedBy: 'admin:root' });
    expect(ended.find((s) => s.deleteReason === 'revoked')).to.include({ endedBy: 'user:alice' });
  });
});
