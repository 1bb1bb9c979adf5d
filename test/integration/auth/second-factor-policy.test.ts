// The two_factor config policies over real HTTP: required for a group (admins by default),
// required outside the home networks (LAN vs WAN through the trusted proxy's
// X-Forwarded-For), enrollment forced right after sign-in, and the config's validation.

import { expect } from 'chai';
import { ConfigError, validateConfig } from '../../../src/config/load.js';
import { Browser } from '../../support/browser.js';
import { HTTPS } from '../../support/forward-auth.js';
import { addUser, GOOD_PASSWORD, tempDir } from '../../support/harness.js';
import { codeAt } from '../../unit/twofactor/support.js';
import { signInWithTotp, userWithTotp, world, type World } from './second-factor-helpers.js';

const ENROLL = '/account/two-factor';

describe('two_factor policy: required for groups', () => {
  let w: World;
  beforeEach(async () => {
    w = await world({ two_factor: { required_for_groups: ['admins'] } });
  });
  afterEach(() => w.app.close());

  it('is [admins] by default, and networks are off (remembered devices: 30 days)', () => {
    const config = validateConfig({ data_dir: tempDir() }, 'test');
    expect(config.two_factor).to.deep.equal({ required_for_groups: ['admins'], required_outside_networks: [], remember_device: 30 * 86_400_000, passkey_sign_in: false });
  });

  it('an admin without a second factor goes to enrollment after the password and can use nothing else', async () => {
    await addUser(w.app.ctx, 'root', { groups: ['admins'] });
    const b = new Browser(w.app.url);
    const res = await b.login('root', GOOD_PASSWORD);
    expect(res.status).to.equal(303);
    expect(res.location).to.equal(ENROLL);
    for (const path of ['/', '/account', '/admin', '/admin/users']) {
      const page = await b.get(path);
      expect(page.status, path).to.equal(303);
      expect(page.location, path).to.equal(ENROLL);
    }
    // The enrollment pages (and /reauth, which they may ask for) are not redirected away.
    const enroll = await b.get(ENROLL);
    expect(enroll.location).not.to.equal(ENROLL);
    const reauth = await b.get('/reauth');
    expect(reauth.status).to.equal(200);
    // A form elsewhere is refused, not performed.
    const token = /name="_csrf" value="([^"]+)"/.exec(reauth.text)?.[1] as string;
    const revoke = await b.post('/account/sessions/revoke-others', { _csrf: token });
    expect(revoke.status).to.equal(403);
    // Signing out still works.
    const out = await b.post('/logout', { _csrf: token });
    expect(out.location).to.equal('/login?notice=signed_out');
  });

  it('after enrolling, the admin pages open at once: the confirming code raised the session to level 2', async () => {
    await addUser(w.app.ctx, 'root', { groups: ['admins'] });
    const b = new Browser(w.app.url);
    expect((await b.login('root', GOOD_PASSWORD)).location).to.equal(ENROLL);
    const page = await b.get(ENROLL);
    const csrf = /name="_csrf" value="([^"]+)"/.exec(page.text)?.[1] as string;
    const begun = await b.post('/account/two-factor/totp', { _csrf: csrf });
    expect(begun.status, begun.text.slice(0, 300)).to.equal(200);
    const secret = (/[A-Z2-7]{4}(?: [A-Z2-7]{4}){7}/.exec(begun.text)?.[0] ?? '').replace(/ /g, '');
    expect(secret).to.have.length(32);
    const csrf2 = /name="_csrf" value="([^"]+)"/.exec(begun.text)?.[1] as string;
    const confirmed = await b.post('/account/two-factor/totp/confirm', { _csrf: csrf2, code: codeAt(secret, w.clock.now()) });
    expect(confirmed.status).to.equal(201);
    const admin = await b.get('/admin');
    expect(admin.status, admin.location ?? '').to.equal(200);
  });

  it('a member outside the group signs in as before', async () => {
    await addUser(w.app.ctx, 'kim');
    const b = new Browser(w.app.url);
    expect((await b.login('kim', GOOD_PASSWORD)).location).to.equal('/');
    expect((await b.get('/account')).status).to.equal(200);
  });

  it('an admin with a second factor takes the second step and then uses the admin pages', async () => {
    const { secret } = await userWithTotp(w, 'root', ['admins']);
    const b = new Browser(w.app.url);
    const res = await signInWithTotp(w, b, 'root', secret);
    expect(res.location).to.equal('/');
    expect((await b.get('/admin')).status).to.equal(200);
  });
});

describe('two_factor policy: required outside the home networks', () => {
  let w: World;
  // Through the trusted (loopback) proxy over HTTPS: passwords are only taken over HTTPS.
  const LAN = { ...HTTPS, 'x-forwarded-for': '192.168.1.20' };
  const WAN = { ...HTTPS, 'x-forwarded-for': '203.0.113.9' };
  beforeEach(async () => {
    w = await world({ two_factor: { required_for_groups: [], required_outside_networks: ['192.168.0.0/16', 'fd00::/8'] } });
    await addUser(w.app.ctx, 'kim');
  });
  afterEach(() => w.app.close());

  it('from the LAN a password is enough', async () => {
    const b = new Browser(w.app.url, LAN);
    expect((await b.login('kim', GOOD_PASSWORD)).location).to.equal('/');
    expect((await b.get('/')).status).to.equal(200);
  });

  it('from the internet a user without a second factor is sent to enrollment', async () => {
    const b = new Browser(w.app.url, WAN);
    expect((await b.login('kim', GOOD_PASSWORD)).location).to.equal(ENROLL);
    expect((await b.get('/')).location).to.equal(ENROLL);
  });

  it('a user with a factor takes the second step wherever they are', async () => {
    const { secret } = await userWithTotp(w, 'lee');
    for (const headers of [LAN, WAN]) {
      const b = new Browser(w.app.url, headers);
      expect((await signInWithTotp(w, b, 'lee', secret)).location).to.equal('/');
      expect((await b.get('/')).status).to.equal(200);
    }
  });
});

describe('two_factor config validation', () => {
  it('names the key of a bad network or group', () => {
    try {
      validateConfig({ data_dir: tempDir(), two_factor: { required_for_groups: ['Admins!'], required_outside_networks: ['192.168.0.0/99'] } }, 'test');
      expect.fail('expected a ConfigError');
    } catch (err) {
      expect(err).to.be.instanceOf(ConfigError);
      const problems = (err as ConfigError).problems.join('\n');
      expect(problems).to.match(/two_factor\.required_for_groups\.0/);
      expect(problems).to.match(/two_factor\.required_outside_networks\.0/);
    }
  });
});
