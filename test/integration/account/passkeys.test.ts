// Passkeys through real HTTP with a software authenticator (ES256, attestation "none"):
// registering on /account/two-factor and using one as the second step, and the refusals of
// the JSON endpoints: no session, no CSRF token, stale or replayed challenges, another
// user's credential, counter regressions, bad JSON (4xx, never 500).

import { expect } from 'chai';
import { Browser, type Reply } from '../../support/browser.js';
import { FakeClock } from '../../support/clock.js';
import { addUser, GOOD_PASSWORD, type TestApp } from '../../support/harness.js';
import { b64url, SoftAuthenticator } from '../../support/webauthn.js';
import { signedIn, startAccountApp } from './support.js';
import { recentAudit } from '../../support/audit.js';

describe('passkeys (WebAuthn) as a second factor', () => {
  let app: TestApp;
  let clock: FakeClock;
  let origin: string;
  beforeEach(async () => {
    clock = new FakeClock();
    app = await startAccountApp({}, { clock });
    origin = new URL(app.url).origin;
    await addUser(app.ctx, 'alice');
    await addUser(app.ctx, 'bob');
  });
  afterEach(() => app.close());

  /** A JSON POST as public/passkeys.js sends it (token from the page's form, same origin). */
  async function postJson(b: Browser, path: string, body: unknown, token: string | null, page = '/account/two-factor'): Promise<Reply> {
    const headers: Record<string, string> = { 'content-type': 'application/json', origin, referer: new URL(page, origin).href };
    if (token) headers['x-csrf-token'] = token;
    return b.request('POST', path, { body: typeof body === 'string' ? body : JSON.stringify(body), headers });
  }
  const parse = (r: Reply): Record<string, unknown> => JSON.parse(r.text) as Record<string, unknown>;

  async function register(b: Browser, auth: SoftAuthenticator, name = 'my phone'): Promise<Reply> {
    const token = await b.csrf('/account/two-factor');
    const opts = await postJson(b, '/account/two-factor/passkeys/register/options', {}, token);
    expect(opts.status, opts.text).to.equal(200);
    const options = parse(opts) as { challenge: string; rp: { id: string } };
    return postJson(b, '/account/two-factor/passkeys/register', { name, response: auth.create(options, origin) }, token);
  }

  /** Password for a user with a passkey: the pending second step, and its CSRF token. */
  async function pendingSignIn(username: string): Promise<{ b: Browser; token: string }> {
    const b = new Browser(app.url);
    const res = await b.login(username, GOOD_PASSWORD);
    expect(res.status).to.equal(303);
    expect(res.headers.get('location')).to.match(/\/login\/second-factor/);
    return { b, token: await b.csrf('/login/second-factor') };
  }

  async function loginOptions(b: Browser, token: string): Promise<{ challenge: string; rpId: string; allowCredentials: { id: string }[] }> {
    const r = await postJson(b, '/login/passkey/options', {}, token, '/login/second-factor');
    expect(r.status, r.text).to.equal(200);
    return parse(r) as { challenge: string; rpId: string; allowCredentials: { id: string }[] };
  }

  it('registers a passkey (recent auth), which turns the second step on; shown, renamed, removed', async () => {
    const b = await signedIn(app, 'alice', GOOD_PASSWORD);
    const auth = new SoftAuthenticator();
    const done = await register(b, auth);
    expect(done.status, done.text).to.equal(201);
    const alice = app.ctx.users.findByUsername('alice')!;
    expect(app.ctx.twoFactor.isEnabled(alice.id)).to.equal(true);
    const page = await b.get('/account/two-factor');
    expect(page.text).to.contain('my phone');
    const pk = app.ctx.twoFactor.passkeys.list(alice.id)[0]!;
    const token = await b.csrf('/account/two-factor');
    const referer = new URL('/account/two-factor', origin).href;
    expect((await b.post(`/account/two-factor/passkeys/${pk.id}/rename`, { _csrf: token, name: 'YubiKey' }, { referer })).status).to.equal(303);
    expect(app.ctx.twoFactor.passkeys.list(alice.id)[0]!.name).to.equal('YubiKey');
    // The same authenticator again is excluded by the options and refused by the server.
    const again = await register(b, auth);
    expect(again.status).to.equal(400);
    expect((await b.post(`/account/two-factor/passkeys/${pk.id}/delete`, { _csrf: token }, { referer })).status).to.equal(303);
    expect(app.ctx.twoFactor.isEnabled(alice.id)).to.equal(false);
    const events = recentAudit(app.ctx, 20).map((e) => e.event);
    expect(events).to.include.members(['passkey-registered', 'passkey-removed']);
  });

  it('asks for the password again before registering when the sign-in is old', async () => {
    const b = await signedIn(app, 'alice', GOOD_PASSWORD);
    clock.advance(11 * 60_000);
    const token = await b.csrf('/account/two-factor');
    const r = await postJson(b, '/account/two-factor/passkeys/register/options', {}, token);
    expect(r.status).to.equal(303);
    expect(r.headers.get('location')).to.match(/^\/reauth/);
  });

  it('signs in with password + passkey; the challenge answers once; counters must grow', async () => {
    const b0 = await signedIn(app, 'alice', GOOD_PASSWORD);
    const auth = new SoftAuthenticator();
    expect((await register(b0, auth)).status).to.equal(201);

    const { b, token } = await pendingSignIn('alice');
    const options = await loginOptions(b, token);
    expect(options.allowCredentials.map((c) => c.id)).to.deep.equal([b64url(auth.credentialId)]);
    const answer = auth.get(options, origin);
    const ok = await postJson(b, '/login/passkey', { response: answer, remember_device: true }, token, '/login/second-factor');
    expect(ok.status, ok.text).to.equal(200);
    expect(parse(ok).redirect).to.equal('/');
    // "Remember this device" applies to a passkey as to a code.
    expect(ok.setCookies.some((c) => c.startsWith('gatehouse_device='))).to.equal(true);
    expect(app.ctx.twoFactor.devices.list(app.ctx.users.findByUsername('alice')!.id)).to.have.length(1);
    expect((await b.get('/')).status).to.equal(200);
    expect(recentAudit(app.ctx, 20).map((e) => e.event)).to.include.members(['passkey-used', 'login-succeeded']);

    // Replaying the same answer in a new pending sign-in: its challenge is another one.
    const second = await pendingSignIn('alice');
    await loginOptions(second.b, second.token);
    const replay = await postJson(second.b, '/login/passkey', { response: answer }, second.token, '/login/second-factor');
    expect(replay.status).to.equal(401);
    // The challenge is gone after one answer, right or wrong.
    const again = await postJson(second.b, '/login/passkey', { response: auth.get(options, origin) }, second.token, '/login/second-factor');
    expect(again.status).to.equal(400);

    // A cloned authenticator: a counter that does not grow is refused.
    const third = await pendingSignIn('alice');
    const o3 = await loginOptions(third.b, third.token);
    auth.counter -= 2;
    const cloned = await postJson(third.b, '/login/passkey', { response: auth.get(o3, origin) }, third.token, '/login/second-factor');
    expect(cloned.status).to.equal(401);
    expect(recentAudit(app.ctx, 50).some((e) => e.event === 'second-factor-failed' && e.details.reason === 'counter-regression')).to.equal(true);
  });

  it('accepts counters that stay 0 (authenticators without a counter)', async () => {
    const b0 = await signedIn(app, 'alice', GOOD_PASSWORD);
    const auth = new SoftAuthenticator(false);
    expect((await register(b0, auth)).status).to.equal(201);
    for (let i = 0; i < 2; i++) {
      const { b, token } = await pendingSignIn('alice');
      const r = await postJson(b, '/login/passkey', { response: auth.get(await loginOptions(b, token), origin) }, token, '/login/second-factor');
      expect(r.status, r.text).to.equal(200);
    }
  });

  it('refuses a stale challenge, another user\u2019s passkey, no session, no CSRF token and bad JSON', async () => {
    const ba = await signedIn(app, 'alice', GOOD_PASSWORD);
    const alicesKey = new SoftAuthenticator();
    expect((await register(ba, alicesKey)).status).to.equal(201);
    const bb = await signedIn(app, 'bob', GOOD_PASSWORD);
    expect((await register(bb, new SoftAuthenticator())).status).to.equal(201);

    // Stale: over 5 minutes between options and answer (the pending sign-in is renewed by a new password).
    const { b, token } = await pendingSignIn('bob');
    const options = await loginOptions(b, token);
    // Alice's passkey for Bob's sign-in.
    const foreign = await postJson(b, '/login/passkey', { response: alicesKey.get(options, origin) }, token, '/login/second-factor');
    expect(foreign.status).to.equal(401);

    const s = await pendingSignIn('bob');
    const o = await loginOptions(s.b, s.token);
    clock.advance(5 * 60_000 + 1);
    const stale = await postJson(s.b, '/login/passkey', { response: alicesKey.get(o, origin) }, s.token, '/login/second-factor');
    expect(stale.status).to.be.within(400, 401);

    // Nobody signing in (the login page's token is no session's: refused as CSRF, or as not signing in).
    const anon = new Browser(app.url);
    const anonToken = await anon.csrf('/login');
    expect((await postJson(anon, '/login/passkey/options', {}, anonToken, '/login')).status).to.be.within(401, 403);
    expect((await postJson(anon, '/login/passkey', { response: {} }, anonToken, '/login')).status).to.be.within(401, 403);
    expect((await postJson(anon, '/account/two-factor/passkeys/register/options', {}, anonToken)).status).to.be.within(300, 499);

    // No CSRF token; wrong content type; bad JSON; junk responses.
    const p = await pendingSignIn('bob');
    expect((await postJson(p.b, '/login/passkey/options', {}, null, '/login/second-factor')).status).to.equal(403);
    expect((await p.b.request('POST', '/login/passkey', { body: 'x=1', headers: { 'content-type': 'application/x-www-form-urlencoded', origin, 'x-csrf-token': p.token } })).status).to.equal(415);
    expect((await postJson(p.b, '/login/passkey', '{"response":', p.token, '/login/second-factor')).status).to.equal(400);
    await loginOptions(p.b, p.token);
    for (const junk of [[], 'x', { response: 'x' }, { response: { id: 7, response: null } }, { response: { id: 'AAAA', response: {} } }]) {
      const r = await postJson(p.b, '/login/passkey', junk, p.token, '/login/second-factor');
      expect(r.status, JSON.stringify(junk)).to.be.within(400, 499);
      await loginOptions(p.b, p.token);
    }
    const regToken = await bb.csrf('/account/two-factor');
    expect((await postJson(bb, '/account/two-factor/passkeys/register', { response: {} }, regToken)).status).to.equal(400);
    await postJson(bb, '/account/two-factor/passkeys/register/options', {}, regToken);
    expect((await postJson(bb, '/account/two-factor/passkeys/register', { response: { id: 1 } }, regToken)).status).to.equal(400);
    expect((await postJson(bb, '/account/two-factor/passkeys/register', '[1,', regToken)).status).to.equal(400);
    // Removing someone else's passkey: not found.
    const alicePk = app.ctx.twoFactor.passkeys.list(app.ctx.users.findByUsername('alice')!.id)[0]!;
    const del = await bb.post(`/account/two-factor/passkeys/${alicePk.id}/delete`, { _csrf: regToken }, { referer: new URL('/account/two-factor', origin).href });
    expect(del.status).to.equal(404);
    expect(app.ctx.twoFactor.passkeys.count(app.ctx.users.findByUsername('alice')!.id)).to.equal(1);
  });

  it('reset() removes passkeys too', async () => {
    const b = await signedIn(app, 'alice', GOOD_PASSWORD);
    expect((await register(b, new SoftAuthenticator())).status).to.equal(201);
    const alice = app.ctx.users.findByUsername('alice')!;
    expect(app.ctx.twoFactor.reset(alice, 'cli').passkeys).to.equal(1);
    expect(app.ctx.twoFactor.isEnabled(alice.id)).to.equal(false);
  });
});
