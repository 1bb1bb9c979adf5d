// Every 200 of /auth/verify and /auth/forward carries all four Remote-* headers, empty where
// there is no value (bypass rules, a member without groups or email): a proxy that copies
// them then always overwrites what the client sent. Caddy 2.6 wrote a literal
// `{http.reverse_proxy.header.Remote-User}` for a missing one, and Caddy 2.9–2.11.1 let the
// client's own header through (CVE-2026-30851).

import { expect } from 'chai';
import { Browser, type Reply } from '../../support/browser.js';
import { forward, forwardAuthConfig, HTTPS, rawGet, verify } from '../../support/forward-auth.js';
import { addUser, GOOD_PASSWORD, startApp, type TestApp } from '../../support/harness.js';

const IDENTITY = ['Remote-User', 'Remote-Groups', 'Remote-Name', 'Remote-Email'] as const;
const HTML = { accept: 'text/html' };

function identity(res: Reply): Record<string, string | null> {
  return Object.fromEntries(IDENTITY.map((name) => [name, res.headers.get(name)]));
}

describe('forward auth: identity headers on every 200', () => {
  let app: TestApp;
  let member: Browser;
  let bare: Browser;
  const anonymous = () => new Browser(app.url, HTTPS);
  const both = async (b: Browser, url: string, headers: Record<string, string> = {}) => [
    await verify(b, url, { headers }),
    await forward(b, url, { headers: { ...HTML, ...headers } }),
  ];

  before(async () => {
    app = await startApp({ config: forwardAuthConfig() });
    await app.ctx.accounts.create({ username: 'alice', password: GOOD_PASSWORD, displayName: 'Alice', email: 'alice@home.example', groups: ['family'], by: 'test' });
    // No groups, no email and no display name given: the name falls back to the username.
    await addUser(app.ctx, 'kim');
    member = new Browser(app.url, HTTPS);
    bare = new Browser(app.url, HTTPS);
    expect((await member.login('alice', GOOD_PASSWORD)).status).to.equal(303);
    expect((await bare.login('kim', GOOD_PASSWORD)).status).to.equal(303);
  });
  after(() => app.close());

  it('a bypass rule answers all four headers, empty, for anybody', async () => {
    for (const res of await both(anonymous(), 'https://public.home.example/x')) {
      expect(res.status).to.equal(200);
      expect(identity(res)).to.deep.equal({ 'Remote-User': '', 'Remote-Groups': '', 'Remote-Name': '', 'Remote-Email': '' });
    }
  });

  it('a bypass rule answers them empty for a signed-in member too (bypass sends no identity)', async () => {
    for (const res of await both(member, 'https://public.home.example/x')) {
      expect(res.status).to.equal(200);
      expect(identity(res)).to.deep.equal({ 'Remote-User': '', 'Remote-Groups': '', 'Remote-Name': '', 'Remote-Email': '' });
    }
  });

  it('a member without groups or email gets those two headers, empty', async () => {
    for (const res of await both(bare, 'https://app.home.example/')) {
      expect(res.status).to.equal(200);
      expect(identity(res)).to.deep.equal({ 'Remote-User': 'kim', 'Remote-Groups': '', 'Remote-Name': 'kim', 'Remote-Email': '' });
    }
  });

  it('a member with every value gets them all', async () => {
    for (const res of await both(member, 'https://app.home.example/')) {
      expect(identity(res)).to.deep.equal({ 'Remote-User': 'alice', 'Remote-Groups': 'family', 'Remote-Name': 'Alice', 'Remote-Email': 'alice@home.example' });
    }
  });

  it('the empty headers are on the wire (not left out), for GET and HEAD', async () => {
    for (const method of ['GET', 'HEAD']) {
      const res = await verify(anonymous(), 'https://lan.home.example/', { as: method, headers: { 'x-forwarded-for': '192.168.1.20' } });
      expect(res.status, method).to.equal(200);
      expect(identity(res), method).to.deep.equal({ 'Remote-User': '', 'Remote-Groups': '', 'Remote-Name': '', 'Remote-Email': '' });
    }
    const raw = await rawGet(app.url, '/auth/verify', { 'x-original-url': 'https://public.home.example/', 'x-original-method': 'GET' });
    for (const name of IDENTITY) expect(raw.utf8(name), name).to.equal('');
  });

  it('refusals still carry no identity headers at all', async () => {
    for (const res of [...(await both(anonymous(), 'https://app.home.example/')), ...(await both(member, 'https://admin.home.example/'))]) {
      expect(res.status).to.be.oneOf([302, 401, 403]);
      expect(identity(res)).to.deep.equal({ 'Remote-User': null, 'Remote-Groups': null, 'Remote-Name': null, 'Remote-Email': null });
    }
  });
});
