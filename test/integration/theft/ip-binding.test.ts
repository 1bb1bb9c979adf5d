// Theft detection through the real app: a session used from another address than the one
// it was bound to at sign-in is ended (pages and forward auth alike), stays dead for the
// original address too, is audited, and the owner is told at the next sign-in.

import { expect } from 'chai';
import { Browser } from '../../support/browser.js';
import { addUser, GOOD_PASSWORD, startApp, type TestApp } from '../../support/harness.js';
import { recentAudit } from '../../support/audit.js';

const via = (ip: string) => ({ 'x-forwarded-for': ip, 'x-forwarded-proto': 'https' });
/** Both cookies of a session: the portal's and the forward-auth one. */
const COOKIES = ['__Host-gatehouse', '__Secure-gatehouse_forward'];

describe('IP binding (theft detection)', () => {
  let app: TestApp;
  async function start(session: Record<string, unknown> = {}, server: Record<string, unknown> = {}) {
    app = await startApp({
      config: {
        portal_url: 'https://auth.home.example',
        session: { cookie_domain: 'home.example', ...session },
        server,
        access_control: { default_policy: 'deny', rules: [{ domain: '*.home.example', policy: 'one_factor' }] },
      },
    });
    await addUser(app.ctx, 'alice');
  }
  afterEach(() => app.close());

  async function signedInFrom(ip: string): Promise<Browser> {
    const b = new Browser(app.url, via(ip));
    expect((await b.login('alice', GOOD_PASSWORD)).status).to.equal(303);
    return b;
  }
  const thief = (victim: Browser, ip: string) => {
    const t = new Browser(app.url, via(ip));
    for (const name of COOKIES) t.cookies.set(name, victim.cookies.get(name) as string);
    return t;
  };
  const verify = (b: Browser) => b.get('/auth/verify', { 'x-original-url': 'https://app.home.example/', 'x-original-method': 'GET' });

  it('ends a session used from another network, and it stays dead for its owner too', async () => {
    await start();
    const owner = await signedInFrom('198.51.100.7');
    expect((await owner.get('/')).status).to.equal(200);
    const stolen = await thief(owner, '203.0.113.66').get('/');
    expect(stolen.status).to.equal(303);
    expect(stolen.location).to.equal('/login');
    expect((await owner.get('/')).status).to.equal(303);

    const row = app.ctx.db.prepare("SELECT delete_reason, delete_detail FROM sessions WHERE user_id IS NOT NULL").get() as { delete_reason: string; delete_detail: string };
    expect(row.delete_reason).to.equal('ip-mismatch');
    expect(JSON.parse(row.delete_detail)).to.include({ bound_ip: '198.51.100.7', seen_ip: '203.0.113.66' });
    const audit = recentAudit(app.ctx, 5, 'session-theft-detected')[0];
    expect(audit).to.deep.include({ username: 'alice', ip: '203.0.113.66' });
    expect(audit?.details).to.include({ bound_ip: '198.51.100.7', via: 'page' });
  });

  it('applies the same check on /auth/verify and /auth/forward', async () => {
    await start();
    const owner = await signedInFrom('198.51.100.7');
    expect((await verify(owner)).status).to.equal(200);
    expect((await verify(thief(owner, '203.0.113.66'))).status).to.equal(401);
    expect((await verify(owner)).status).to.equal(401);

    const again = await signedInFrom('198.51.100.7');
    const forward = await thief(again, '203.0.113.66').get('/auth/forward', {
      'x-forwarded-method': 'GET',
      'x-forwarded-host': 'app.home.example',
      'x-forwarded-uri': '/',
      accept: 'text/html',
    });
    expect(forward.status).to.equal(302);
    expect((await verify(again)).status).to.equal(401);
    expect(recentAudit(app.ctx, 10, 'session-theft-detected').map((e) => e.details.via)).to.deep.equal(['forward', 'verify']);
  });

  it('subnet policy (default) lets the /24 and /64 neighbours use the session', async () => {
    await start();
    const v4 = await signedInFrom('198.51.100.7');
    expect((await thief(v4, '198.51.100.99').get('/')).status).to.equal(200);
    const v6 = await signedInFrom('2001:db8:1:2::10');
    expect((await thief(v6, '2001:db8:1:2:ffff::1').get('/')).status).to.equal(200);
    expect((await thief(v6, '2001:db8:1:3::10').get('/')).status).to.equal(303);
  });

  it('strict policy refuses even the neighbour; exempt networks allow roaming inside them', async () => {
    await start({ ip_binding: 'strict', ip_binding_exempt_networks: ['192.168.0.0/16', 'fd00::/8'] });
    const wan = await signedInFrom('198.51.100.7');
    expect((await thief(wan, '198.51.100.8').get('/')).status).to.equal(303);
    const lan = await signedInFrom('192.168.1.20');
    expect((await thief(lan, 'fd00::20').get('/')).status).to.equal(200);
    expect((await thief(lan, '192.168.200.1').get('/')).status).to.equal(200);
    expect((await thief(lan, '203.0.113.1').get('/')).status).to.equal(303);
  });

  it('off never ends a session for its address', async () => {
    await start({ ip_binding: 'off' });
    const owner = await signedInFrom('198.51.100.7');
    expect((await thief(owner, '203.0.113.66').get('/')).status).to.equal(200);
  });

  it('cannot be dodged with X-Forwarded-For from a client that is not a trusted proxy', async () => {
    // Only 10.9.9.9 is a trusted proxy: our loopback peer's X-Forwarded-For is ignored, so
    // the session is bound to 127.0.0.1 and a forged header cannot pose as that address.
    await start({}, { trusted_proxies: ['10.9.9.9'], allow_insecure_http: true });
    const owner = new Browser(app.url, { 'x-forwarded-for': '198.51.100.7' });
    await owner.login('alice', GOOD_PASSWORD);
    expect(app.ctx.db.prepare('SELECT bound_ip FROM sessions WHERE user_id IS NOT NULL').pluck().get()).to.equal('127.0.0.1');
    const other = new Browser(app.url, { 'x-forwarded-for': '203.0.113.66' });
    other.cookies.set('gatehouse', owner.cookies.get('gatehouse') as string);
    expect((await other.get('/')).status).to.equal(200); // same real peer: not a theft
  });

  it('tells the owner at the next sign-in, once, with the time and both addresses', async () => {
    await start();
    const owner = await signedInFrom('198.51.100.7');
    await thief(owner, '203.0.113.66').get('/');
    const next = await signedInFrom('198.51.100.7');
    const home = await next.get('/');
    expect(home.text).to.match(/ended on \d{4}-\d\d-\d\d \d\d:\d\d UTC because it was used from 203\.0\.113\.66, not from 198\.51\.100\.7/);
    expect((await next.get('/')).text).not.to.contain('203.0.113.66');
    const later = await signedInFrom('198.51.100.7');
    expect((await later.get('/')).text).not.to.contain('203.0.113.66');
  });
});
