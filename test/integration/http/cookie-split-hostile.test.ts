// Attacks from the hostile review of the cookie split and the pending second step that held,
// kept as regression guards: the forward-auth cookie opens nothing at the portal, cookie
// names cannot be confused, theft through the forward cookie ends the session, and a pending
// second step signs in at most once and never across a password change or a re-created user.

import { request } from 'node:http';
import { expect } from 'chai';
import { Browser, type Reply } from '../../support/browser.js';
import { forwardAuthConfig, HTTPS, verify } from '../../support/forward-auth.js';
import { addUser, GOOD_PASSWORD, startApp, type TestApp } from '../../support/harness.js';
import { codeAt, userWithTotp, world, type World } from '../auth/second-factor-helpers.js';
import { recentAudit } from '../../support/audit.js';

const PORTAL_COOKIE = '__Host-gatehouse';
const FORWARD_COOKIE = '__Secure-gatehouse_forward';

describe('the forward-auth cookie at the portal, and cookie name confusion (hostile review)', () => {
  let app: TestApp;
  let admin: Browser;

  beforeEach(async () => {
    app = await startApp({ config: { ...forwardAuthConfig(), rate_limit: { max: 100_000 } } });
    await addUser(app.ctx, 'zoe', { groups: ['admins'] });
    admin = new Browser(app.url, HTTPS);
    expect((await admin.login('zoe', GOOD_PASSWORD)).status).to.equal(303);
  });
  afterEach(() => app.close());

  /** A client holding just these cookies, over HTTPS through the trusted proxy. */
  function holding(cookies: Record<string, string>, headers: Record<string, string> = HTTPS): Browser {
    const b = new Browser(app.url, headers);
    for (const [k, v] of Object.entries(cookies)) b.cookies.set(k, v);
    return b;
  }
  const forwardOnly = () => holding({ [FORWARD_COOKIE]: admin.cookies.get(FORWARD_COOKIE) as string });
  const signedOut = (res: Reply): boolean => res.status === 401 || (res.status === 303 && res.location === '/login');

  it('opens no page, API or form anywhere at the portal, and cannot end the session', async () => {
    const up = forwardOnly();
    for (const path of ['/', '/account', '/account/password', '/account/two-factor', '/account/data', '/admin', '/admin/users', '/admin/sessions', '/reauth', '/api/v1/me', '/api/v1/csrf', '/api/v1/me/sessions', '/api/v1/users']) {
      expect(signedOut(await up.get(path)), path).to.equal(true);
    }
    // /login shows the form (not "already signed in"), whose token belongs to a new anonymous session.
    const login = await up.get('/login');
    expect(login.status).to.equal(200);
    const token = /name="_csrf" value="([^"]+)"/.exec(login.text)?.[1] as string;
    for (const path of ['/logout', '/account/sessions/revoke-others', '/reauth', '/account/password', '/admin/users/zoe/disable']) {
      const res = await up.post(path, { _csrf: token, password: GOOD_PASSWORD, current_password: GOOD_PASSWORD, new_password: 'violet submarine orbits quietly', new_password_confirm: 'violet submarine orbits quietly' });
      expect(res.status, path).to.be.oneOf([303, 401, 403]);
      if (res.status === 303) expect(res.location, path).to.equal('/login');
    }
    const strength = await up.request('POST', '/password/strength', {
      body: JSON.stringify({ password: 'x' }),
      headers: { 'content-type': 'application/json', 'x-csrf-token': token },
    });
    expect(strength.status).to.equal(401);
    // Nothing above touched the session: the admin and forward auth still work.
    expect((await admin.get('/admin')).status).to.equal(200);
    expect((await verify(forwardOnly(), 'https://app.home.example/')).status).to.equal(200);
    expect(app.ctx.users.findByUsername('zoe')?.disabled).to.equal(false);
  });

  it('the forward value under the portal name, or the portal value under another name, opens nothing', async () => {
    const portal = admin.cookies.get(PORTAL_COOKIE) as string;
    const fwd = admin.cookies.get(FORWARD_COOKIE) as string;
    const attempts: Array<[string, Browser]> = [
      ['forward value as __Host-gatehouse', holding({ [PORTAL_COOKIE]: fwd })],
      ['forward value signed-looking', holding({ [PORTAL_COOKIE]: `s%3A${fwd}.x` })],
      ['portal value as plain gatehouse over HTTPS (tossed by a sibling)', holding({ gatehouse: portal })],
      ['portal value as __host-gatehouse (prefix case)', holding({ '__host-gatehouse': portal })],
      ['portal value as __Host-gatehouse over plain HTTP', holding({ [PORTAL_COOKIE]: portal }, {})],
      ['portal value as the forward cookie', holding({ [FORWARD_COOKIE]: portal })],
    ];
    for (const [label, b] of attempts) {
      expect(signedOut(await b.get('/api/v1/me')), `${label}: API`).to.equal(true);
      expect((await verify(b, 'https://app.home.example/')).status, `${label}: forward auth`).to.equal(401);
    }
  });

  it('duplicated cookies: the first one decides, a valid second copy does not lend its credential', async () => {
    const portal = admin.cookies.get(PORTAL_COOKIE) as string;
    const fwd = admin.cookies.get(FORWARD_COOKIE) as string;
    const junkFirst = new Browser(app.url, { ...HTTPS, cookie: `${PORTAL_COOKIE}=s%3Ajunk.sig; ${PORTAL_COOKIE}=${portal}; ${FORWARD_COOKIE}=${'A'.repeat(43)}; ${FORWARD_COOKIE}=${fwd}` });
    expect((await junkFirst.get('/api/v1/me')).status).to.equal(401);
    expect((await verify(junkFirst, 'https://app.home.example/')).status).to.equal(401);
  });

  it('a forward cookie used from another network ends the session (both cookies) and is audited', async () => {
    const thief = new Browser(app.url, { ...HTTPS, 'x-forwarded-for': '203.0.113.9' });
    thief.cookies.set(FORWARD_COOKIE, admin.cookies.get(FORWARD_COOKIE) as string);
    expect((await verify(thief, 'https://app.home.example/')).status).to.equal(401);
    expect(recentAudit(app.ctx, 10).map((e) => e.event)).to.include('session-theft-detected');
    expect((await admin.get('/account')).status, 'the portal cookie died with it').to.equal(303);
    expect((await verify(admin, 'https://app.home.example/')).status).to.equal(401);
  });
});

describe('the pending second step under attack (hostile review)', () => {
  let w: World;
  let secret: string;
  beforeEach(async () => {
    w = await world({ rate_limit: { max: 100_000 } });
    ({ secret } = await userWithTotp(w, 'alice'));
  });
  afterEach(() => w.app.close());

  const liveSessions = () => w.app.ctx.sessions.list({ userId: w.app.ctx.users.findByUsername('alice')!.id }).length;

  it('used twice in parallel (a TOTP code and a recovery code): one session at most', async () => {
    const alice = w.app.ctx.users.findByUsername('alice')!;
    const [recovery] = w.app.ctx.twoFactor.recoveryCodes.generate(alice, 'test');
    const b = new Browser(w.app.url);
    expect((await b.login('alice', GOOD_PASSWORD)).location).to.equal('/login/second-factor');
    const page = await b.get('/login/second-factor');
    const token = /name="_csrf" value="([^"]+)"/.exec(page.text)?.[1] as string;
    // Both requests load the pending session before either body is complete: both handlers
    // then run with the pending state in hand.
    const one = slowPost(w.app.url, '/login/second-factor', b.cookieHeader(), { _csrf: token, code: codeAt(secret, w.clock.now()) });
    const two = slowPost(w.app.url, '/login/second-factor', b.cookieHeader(), { _csrf: token, code: recovery as string });
    await new Promise((resolve) => setTimeout(resolve, 150));
    one.finish();
    two.finish();
    const statuses = [await one.status, await two.status];
    expect(statuses.filter((s) => s >= 500), 'no 500').to.deep.equal([]);
    expect(statuses.sort(), 'one sign-in, one refusal (the consumed pending state)').to.deep.equal([303, 401]);
    expect(liveSessions(), 'signed-in sessions from one pending state').to.equal(1);
  });

  it('a pending state from before a password change signs nobody in (401), even with the right code', async () => {
    const b = new Browser(w.app.url);
    expect((await b.login('alice', GOOD_PASSWORD)).location).to.equal('/login/second-factor');
    await w.app.ctx.accounts.setPassword('alice', 'violet submarine orbits quietly', 'user:alice');
    const page = await b.get('/login/second-factor');
    const token = /name="_csrf" value="([^"]+)"/.exec(page.text)?.[1] as string;
    const res = await b.post('/login/second-factor', { _csrf: token, code: codeAt(secret, w.clock.now()) });
    expect(res.status).to.equal(401);
    expect(liveSessions()).to.equal(0);
    expect((await b.get('/api/v1/me')).status).to.equal(401);
  });

  it('a pending state of a user deleted and re-created under the same name is worthless', async () => {
    const b = new Browser(w.app.url);
    expect((await b.login('alice', GOOD_PASSWORD)).location).to.equal('/login/second-factor');
    w.app.ctx.accounts.delete('alice', 'admin:test');
    const again = await userWithTotp(w, 'alice');
    const page = await b.get('/login/second-factor');
    if (page.status === 200) {
      const token = /name="_csrf" value="([^"]+)"/.exec(page.text)?.[1] as string;
      const res = await b.post('/login/second-factor', { _csrf: token, code: codeAt(again.secret, w.clock.now()) });
      expect(res.status).to.not.equal(200);
    }
    expect((await b.get('/api/v1/me')).status).to.equal(401);
    expect(liveSessions()).to.equal(0);
  });
});

/** A form POST whose body arrives in two parts: the second when `finish` is called. */
function slowPost(base: string, path: string, cookie: string, form: Record<string, string>): { status: Promise<number>; finish: () => void } {
  const body = Buffer.from(new URLSearchParams(form).toString());
  let resolveStatus!: (s: number) => void;
  const status = new Promise<number>((resolve) => (resolveStatus = resolve));
  const req = request(new URL(path, base), {
    method: 'POST',
    headers: { cookie, 'content-type': 'application/x-www-form-urlencoded', 'content-length': String(body.length) },
  });
  req.on('response', (res) => {
    res.resume();
    resolveStatus(res.statusCode ?? 0);
  });
  req.write(body.subarray(0, 10));
  req.flushHeaders();
  return { status, finish: () => req.end(body.subarray(10)) };
}
