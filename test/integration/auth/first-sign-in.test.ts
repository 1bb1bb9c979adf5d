// The first sign-in explains itself (issue 21, item 3): a user the two_factor policy obliges
// to enroll is told why on /account/two-factor (the group rule or the networks rule), offered
// an authenticator app and a passkey, and a way to sign out, with no links that loop back;
// the setup page says so before the administrator exists; the login page says what to do
// about a forgotten password.

import { expect } from 'chai';
import { run } from '../../../src/cli/index.js';
import { Browser } from '../../support/browser.js';
import { HTTPS } from '../../support/forward-auth.js';
import { addUser, GOOD_PASSWORD, startApp, type TestApp } from '../../support/harness.js';
import { world, type World } from './second-factor-helpers.js';

const ENROLL = '/account/two-factor';

/** The page's main content, without the layout's header. */
const main = (html: string): string => /<main[^>]*>([\s\S]*)<\/main>/.exec(html)?.[1] ?? '';
const header = (html: string): string => /<header[^>]*>([\s\S]*)<\/header>/.exec(html)?.[1] ?? '';
/** Text without tags, whitespace collapsed. */
const text = (html: string): string => html.replace(/<[^>]+>/g, ' ').replace(/&#39;|&rsquo;|’/g, "'").replace(/\s+/g, ' ');

describe('first sign-in: the enrollment page says why', () => {
  let w: World;
  afterEach(() => w.app.close());

  async function forcedEnrollment(config: Record<string, unknown>, username: string, groups: string[], headers: Record<string, string> = {}) {
    w = await world(config);
    await addUser(w.app.ctx, username, { groups });
    const b = new Browser(w.app.url, headers);
    expect((await b.login(username, GOOD_PASSWORD)).location).to.equal(ENROLL);
    const page = await b.get(ENROLL);
    expect(page.status).to.equal(200);
    return { b, page };
  }

  it('an administrator is told that administrators must use a second factor, and offered an app, a passkey and sign-out', async () => {
    const { b, page } = await forcedEnrollment({ two_factor: { required_for_groups: ['admins'] } }, 'root', ['admins']);
    const body = main(page.text);
    expect(text(body)).to.match(/Administrators must use a second factor/);
    expect(text(body)).to.contain('two_factor.required_for_groups');
    // Both ways, each with its own control.
    expect(body).to.match(/<form method="post" action="\/account\/two-factor\/totp"[\s\S]*?Set up an authenticator app/);
    expect(body).to.match(/href="#passkeys"[^>]*>[^<]*passkey/i);
    expect(body).to.contain('id="passkey-register"');
    // A way out that is not a loop: the sign-out form in the page itself.
    expect(body).to.match(/<form method="post" action="\/logout"[\s\S]*?Sign out/);
    // No links back into the pages that only lead here again.
    expect(body).not.to.contain('href="/account"');
    expect(header(page.text)).not.to.contain('href="/account"');
    expect(header(page.text)).not.to.contain('href="/admin"');
    expect(header(page.text)).to.contain('action="/logout"');
    // And the sign-out in the page works.
    const token = /name="_csrf" value="([^"]+)"/.exec(body)?.[1] as string;
    expect((await b.post('/logout', { _csrf: token })).location).to.equal('/login?notice=signed_out');
    expect((await b.get('/account')).location).to.equal('/login');
  });

  it('a member of another required group is told which group', async () => {
    const { page } = await forcedEnrollment({ two_factor: { required_for_groups: ['family'] } }, 'kim', ['family']);
    expect(text(main(page.text))).to.match(/Members of the group “family” must use a second factor/);
    expect(text(main(page.text))).not.to.match(/Administrators must/);
  });

  it('outside the home networks the reason is the network, with the address seen', async () => {
    const WAN = { ...HTTPS, 'x-forwarded-for': '203.0.113.9' };
    const { page } = await forcedEnrollment({ two_factor: { required_for_groups: [], required_outside_networks: ['192.168.0.0/16'] } }, 'kim', [], WAN);
    const t = text(main(page.text));
    expect(t).to.match(/outside the home network/);
    expect(t).to.contain('203.0.113.9');
    expect(t).to.contain('two_factor.required_outside_networks');
    expect(t).not.to.match(/must use a second factor because of your group|Administrators must/);
  });

  it('says passkeys need HTTPS where the browser cannot make one (plain HTTP, not localhost)', async () => {
    w = await world({ two_factor: { required_for_groups: ['admins'] }, server: { allow_insecure_http: true } });
    await addUser(w.app.ctx, 'root', { groups: ['admins'] });
    // As through a proxy on this machine that serves the LAN over plain HTTP (fetch cannot set Host).
    const b = new Browser(w.app.url, { 'x-forwarded-host': 'gatehouse.lan' });
    expect((await b.login('root', GOOD_PASSWORD)).location).to.equal(ENROLL);
    const body = main((await b.get(ENROLL)).text);
    expect(text(body)).to.match(/Passkeys need HTTPS/);
    expect(body).not.to.contain('href="#passkeys"');
    expect(body).to.contain('action="/account/two-factor/totp"');
  });

  it('a member who opens the page by choice sees no "must", and keeps the way back to the account', async () => {
    w = await world({ two_factor: { required_for_groups: ['admins'] } });
    await addUser(w.app.ctx, 'kim');
    const b = new Browser(w.app.url);
    expect((await b.login('kim', GOOD_PASSWORD)).location).to.equal('/');
    const page = await b.get(ENROLL);
    expect(text(main(page.text))).not.to.match(/must use a second factor/);
    expect(main(page.text)).to.contain('href="/account"');
    expect(header(page.text)).to.contain('href="/account"');
  });
});

describe('first run: the setup page and the login page', () => {
  let app: TestApp;
  afterEach(() => app.close());

  async function setupPage(config: Record<string, unknown>): Promise<string> {
    app = await startApp({ config });
    const token = (app.ctx.setup.issueIfNeeded() as { token: string }).token;
    const page = await new Browser(app.url).get(`/setup?token=${token}`);
    expect(page.status).to.equal(200);
    return text(main(page.text));
  }

  it('the setup page says, before the account exists, that the administrator will set up a second factor next', async () => {
    const t = await setupPage({ two_factor: { required_for_groups: ['admins'] } });
    expect(t).to.match(/Administrators must use a second factor/);
    expect(t).to.match(/authenticator app/);
    expect(t).to.match(/passkey/);
  });

  it('the setup page mentions the networks rule when that is the one that applies, and says nothing when none does', async () => {
    expect(await setupPage({ two_factor: { required_for_groups: [], required_outside_networks: ['192.168.0.0/16'] } })).to.match(/outside the home network/);
    await app.close();
    const none = await setupPage({ two_factor: { required_for_groups: [] } });
    expect(none).not.to.match(/second factor/);
  });

  it('the login page says what to do about a forgotten password, naming a CLI command that exists', async () => {
    app = await startApp();
    const page = await new Browser(app.url).get('/login');
    const t = text(main(page.text));
    expect(t).to.match(/Forgot your password\?/);
    expect(t).to.match(/ask your administrator/i);
    const command = /gatehouse (user passwd) NAME/.exec(t)?.[1];
    expect(command, t).to.equal('user passwd');
    const out: string[] = [];
    const code = await run(['node', 'gatehouse', ...(command as string).split(' '), '--help'], { out: (l) => out.push(l), err: (l) => out.push(l) });
    expect(code).to.equal(0);
    expect(out.join('\n')).to.match(/Usage: gatehouse user passwd/);
  });
});
