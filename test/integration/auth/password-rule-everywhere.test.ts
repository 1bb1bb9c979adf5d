// One password rule wherever a password is set (setup page, own account page, admin pages,
// API, CLI): easily guessed values of 15+ characters (sequences, keyboard walks, words with
// digits) are refused with the reason, a passphrase of unrelated words is accepted.

import { rmSync } from 'node:fs';
import { expect } from 'chai';
import { Browser } from '../../support/browser.js';
import { buildOnce, gatehouse, initDataDir } from '../../support/cli.js';
import { addUser, GOOD_PASSWORD, startApp, tempDir, type TestApp } from '../../support/harness.js';
import { Api, ApiDoc, signedIn as apiSignedIn } from '../../support/openapi.js';
import { signIn, submit } from '../admin/admin-support.js';

const PASSPHRASE = 'violet tractor mumble ocean';
const TOO_EASY = 'This password is too easy to guess.';

describe('the password rule, everywhere a password is set', () => {
  describe('setup page', () => {
    let app: TestApp;
    before(async () => {
      app = await startApp();
    });
    after(() => app.close());

    it('refuses "Password123456!" for the first administrator, then accepts a passphrase', async () => {
      const token = (app.ctx.setup.issueIfNeeded() as { token: string }).token;
      const b = new Browser(app.url);
      const post = async (password: string) =>
        b.post('/setup', { _csrf: await b.csrf(`/setup?token=${token}`), token, username: 'root', password, password_confirm: password });
      const weak = await post('Password123456!');
      expect(weak.status).to.equal(400);
      expect(weak.text).to.contain(TOO_EASY);
      expect(app.ctx.users.count()).to.equal(0);
      expect((await post(PASSPHRASE)).status).to.equal(303);
    });
  });

  describe('account, admin and API', () => {
    let app: TestApp;
    before(async () => {
      app = await startApp({ config: { rate_limit: { max: 100_000 } } });
      await addUser(app.ctx, 'root', { groups: ['admins'] });
      await addUser(app.ctx, 'alice');
      await addUser(app.ctx, 'bob');
    });
    after(() => app.close());

    it('own account page: refuses "123456789012345"', async () => {
      const alice = await signIn(app, 'alice');
      const res = await alice.post('/account/password', { _csrf: await alice.csrf('/account/password'), current_password: GOOD_PASSWORD, new_password: '123456789012345', new_password_confirm: '123456789012345' });
      expect(res.status).to.equal(400);
      expect(res.text).to.contain(TOO_EASY);
      expect(await app.ctx.accounts.checkPassword(app.ctx.users.findByUsername('alice')!.id, GOOD_PASSWORD)).to.equal(true);
    });

    it('admin pages: refuse "qwertyuiopasdfg" as a reset and "abcdefghijklmno" for a new user', async () => {
      const root = await signIn(app, 'root');
      const reset = await submit(root, '/admin/users/alice', '/admin/users/alice/password', { password: 'qwertyuiopasdfg', password_confirm: 'qwertyuiopasdfg' });
      expect(reset.status).to.equal(400);
      expect(reset.text).to.contain(TOO_EASY);
      const created = await submit(root, '/admin/users/new', '/admin/users', { username: 'carol', password: 'abcdefghijklmno', password_confirm: 'abcdefghijklmno' });
      expect(created.status).to.equal(400);
      expect(created.text).to.contain(TOO_EASY);
      expect(app.ctx.users.findByUsername('carol')).to.equal(null);
    });

    it('API: refuses "password1234567" as one\'s own, "monkey123456789" as a reset and for a new user', async () => {
      const doc = await ApiDoc.fetch(app.url);
      const bob: Api = await apiSignedIn(doc, app.url, 'bob', GOOD_PASSWORD);
      const own = await bob.put('/api/v1/me/password', { current_password: GOOD_PASSWORD, new_password: 'password1234567' });
      expect(own.status).to.equal(400);
      expect(own.body.error).to.include({ code: 'weak-password' });
      expect(own.body.error.message).to.contain(TOO_EASY);
      const root: Api = await apiSignedIn(doc, app.url, 'root', GOOD_PASSWORD);
      const reset = await root.put('/api/v1/users/bob/password', { password: 'monkey123456789' });
      expect(reset.status).to.equal(400);
      expect(reset.body.error.message).to.contain(TOO_EASY);
      const created = await root.post('/api/v1/users', { username: 'dave', password: 'monkey123456789' });
      expect(created.status).to.equal(400);
      expect(created.body.error.message).to.contain(TOO_EASY);
      expect((await root.put('/api/v1/users/bob/password', { password: PASSPHRASE })).status).to.equal(200);
    });
  });

  describe('CLI', () => {
    let dir: string;
    before(function () {
      this.timeout(180_000);
      buildOnce();
    });
    beforeEach(() => {
      dir = tempDir();
      initDataDir(dir);
    });
    afterEach(() => rmSync(dir, { recursive: true, force: true }));

    it('user add and user passwd refuse "Password123456!" with the reason and accept a passphrase', async () => {
      const add = (password: string) => gatehouse(dir, ['user', 'add', 'alice', '--password-stdin'], { input: `${password}\n` });
      const weak = await add('Password123456!');
      expect(weak.code).to.equal(1);
      expect(weak.stderr).to.contain(TOO_EASY);
      expect((await add(PASSPHRASE)).code).to.equal(0);
      const passwd = await gatehouse(dir, ['user', 'passwd', 'alice', '--password-stdin'], { input: 'monkey123456789\n' });
      expect(passwd.code).to.equal(1);
      expect(passwd.stderr).to.contain(TOO_EASY);
    });
  });
});
