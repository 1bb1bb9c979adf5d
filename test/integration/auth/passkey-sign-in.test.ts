// Passwordless sign-in with a passkey (two_factor.passkey_sign_in), through real HTTP with a
// software authenticator: off by default (404, nothing on the page); on, a discoverable
// credential with user verification signs in at level 2 under a new session ID; unknown
// credentials, disabled users, no UV, replayed or stale challenges, no CSRF token and junk
// JSON are refused with 4xx and one generic message; failures are throttled per IP.

import { expect } from 'chai';
import { Browser, type Reply } from '../../support/browser.js';
import { FakeClock } from '../../support/clock.js';
import { addUser, GOOD_PASSWORD, type TestApp } from '../../support/harness.js';
import { SoftAuthenticator } from '../../support/webauthn.js';
import { signedIn, startAccountApp } from '../account/support.js';
import { storedAuth } from './second-factor-helpers.js';
import { recentAudit } from '../../support/audit.js';

type Options = { challenge: string; rpId: string; allowCredentials?: unknown[]; userVerification?: string };

describe('passwordless sign-in with a passkey (two_factor.passkey_sign_in)', () => {
  let app: TestApp;
  let clock: FakeClock;
  let origin: string;
  afterEach(() => app.close());

  async function start(on: boolean, config: Record<string, unknown> = {}): Promise<void> {
    clock = new FakeClock();
    app = await startAccountApp({ two_factor: { passkey_sign_in: on }, ...config }, { clock });
    origin = new URL(app.url).origin;
    await addUser(app.ctx, 'alice');
    await addUser(app.ctx, 'bob');
  }

  async function postJson(b: Browser, path: string, body: unknown, token: string | null, page = '/login'): Promise<Reply> {
    const headers: Record<string, string> = { 'content-type': 'application/json', origin, referer: new URL(page, origin).href };
    if (token) headers['x-csrf-token'] = token;
    return b.request('POST', path, { body: typeof body === 'string' ? body : JSON.stringify(body), headers });
  }
  const parse = (r: Reply): Record<string, unknown> => JSON.parse(r.text) as Record<string, unknown>;

  /** Registers a passkey for `username` on /account/two-factor (as the second factor). */
  async function register(username: string, auth: SoftAuthenticator): Promise<void> {
    const b = await signedIn(app, username, GOOD_PASSWORD);
    const token = await b.csrf('/account/two-factor');
    const opts = await postJson(b, '/account/two-factor/passkeys/register/options', {}, token, '/account/two-factor');
    expect(opts.status, opts.text).to.equal(200);
    const r = await postJson(b, '/account/two-factor/passkeys/register', { name: 'phone', response: auth.create(parse(opts) as never, origin) }, token, '/account/two-factor');
    expect(r.status, r.text).to.equal(201);
  }

  /** A fresh browser on the login page: its CSRF token and discover options. */
  async function begin(): Promise<{ b: Browser; token: string; options: Options }> {
    const b = new Browser(app.url);
    const token = await b.csrf('/login');
    const r = await postJson(b, '/login/passkey/discover/options', {}, token);
    expect(r.status, r.text).to.equal(200);
    return { b, token, options: parse(r) as Options };
  }

  it('is off by default: nothing on the login page, and both endpoints answer 404', async () => {
    await start(false);
    const b = new Browser(app.url);
    const page = await b.get('/login');
    expect(page.text).to.not.contain('Sign in with a passkey');
    expect(page.text).to.not.contain('passkeys.js');
    const token = await b.csrf('/login');
    expect((await postJson(b, '/login/passkey/discover/options', {}, token)).status).to.equal(404);
    expect((await postJson(b, '/login/passkey/discover', { response: {} }, token)).status).to.equal(404);
  });

  it('signs in without a password at level 2 under a new session ID, and goes on to rd', async () => {
    await start(true);
    const auth = new SoftAuthenticator();
    await register('alice', auth);
    const page = await new Browser(app.url).get('/login');
    expect(page.text).to.contain('Sign in with a passkey').and.contain('/passkeys.js');
    expect(page.text).to.contain('name="password"');

    const { b, token, options } = await begin();
    expect(options.allowCredentials ?? []).to.deep.equal([]);
    expect(options.userVerification).to.equal('required');
    const before = b.cookies.get('gatehouse');
    const ok = await postJson(b, '/login/passkey/discover', { response: auth.get(options, origin), rd: '/account' }, token);
    expect(ok.status, ok.text).to.equal(200);
    expect(parse(ok).redirect).to.equal('/account');
    expect(b.cookies.get('gatehouse')).to.not.equal(before);
    expect(storedAuth(app, b)).to.include({ level: 2 });
    expect(storedAuth(app, b)?.methods, 'no password was used').to.deep.equal(['passkey']);
    expect((await b.get('/')).status).to.equal(200);
    const events = recentAudit(app.ctx, 20).map((e) => e.event);
    expect(events).to.include.members(['passkey-used', 'login-succeeded']);

    // An rd off this site is dropped.
    const s = await begin();
    const evil = await postJson(s.b, '/login/passkey/discover', { response: auth.get(s.options, origin), rd: 'https://evil.example/' }, s.token);
    expect(evil.status, evil.text).to.equal(200);
    expect(parse(evil).redirect).to.equal('/');
  });

  it('refuses unknown credentials, disabled users, no user verification, replays and clones with one message', async () => {
    await start(true);
    const alice = new SoftAuthenticator();
    await register('alice', alice);
    const noUv = new SoftAuthenticator(true, false);
    await register('bob', noUv);
    const messages = new Set<string>();
    const refused = async (r: Reply, status = 401): Promise<void> => {
      expect(r.status, r.text).to.equal(status);
      messages.add(String((parse(r).error as { message: string }).message));
    };

    // A credential this server never registered.
    let s = await begin();
    await refused(await postJson(s.b, '/login/passkey/discover', { response: new SoftAuthenticator().get(s.options, origin) }, s.token));
    // A passkey without user verification (possession alone is one factor).
    s = await begin();
    await refused(await postJson(s.b, '/login/passkey/discover', { response: noUv.get(s.options, origin) }, s.token));
    // Refused for the missing UV flag itself, before the signature is even checked.
    expect(recentAudit(app.ctx, 50).some((e) => e.username === 'bob' && (e.event === 'second-factor-failed' || e.event === 'passkey-used'))).to.equal(false);
    // A disabled user.
    const aliceUser = app.ctx.users.findByUsername('alice')!;
    app.ctx.users.setDisabled(aliceUser.id, true, clock.now());
    s = await begin();
    await refused(await postJson(s.b, '/login/passkey/discover', { response: alice.get(s.options, origin) }, s.token));
    app.ctx.users.setDisabled(aliceUser.id, false, clock.now());
    expect(messages.size).to.equal(1);

    // Replay: the challenge answers once; an old answer does not fit a new challenge.
    s = await begin();
    const answer = alice.get(s.options, origin);
    expect((await postJson(s.b, '/login/passkey/discover', { response: answer }, s.token)).status).to.equal(200);
    const b2 = new Browser(app.url);
    const t2 = await b2.csrf('/login');
    expect((await postJson(b2, '/login/passkey/discover', { response: answer }, t2)).status).to.equal(400);
    await postJson(b2, '/login/passkey/discover/options', {}, t2);
    await refused(await postJson(b2, '/login/passkey/discover', { response: answer }, t2));

    // Stale: over 5 minutes.
    s = await begin();
    clock.advance(5 * 60_000 + 1);
    expect((await postJson(s.b, '/login/passkey/discover', { response: alice.get(s.options, origin) }, s.token)).status).to.equal(400);

    // A cloned authenticator: the counter must grow.
    s = await begin();
    alice.counter -= 2;
    await refused(await postJson(s.b, '/login/passkey/discover', { response: alice.get(s.options, origin) }, s.token));
    expect(messages.size).to.equal(1);
    // Repeats from one address are coalesced: count the events, not the rows.
    expect(recentAudit(app.ctx, 50, 'login-failed').reduce((n, e) => n + e.count, 0)).to.be.at.least(5);
  });

  it('refuses no CSRF token, another origin, the wrong content type and junk JSON with 4xx', async () => {
    await start(true);
    const b = new Browser(app.url);
    const token = await b.csrf('/login');
    expect((await postJson(b, '/login/passkey/discover/options', {}, null)).status).to.equal(403);
    expect((await postJson(b, '/login/passkey/discover', { response: {} }, 'nope')).status).to.equal(403);
    const foreign = await b.request('POST', '/login/passkey/discover/options', { body: '{}', headers: { 'content-type': 'application/json', origin: 'https://evil.example', 'x-csrf-token': token } });
    expect(foreign.status).to.be.within(400, 499);
    expect((await b.request('POST', '/login/passkey/discover', { body: 'x=1', headers: { 'content-type': 'application/x-www-form-urlencoded', origin, 'x-csrf-token': token } })).status).to.equal(415);
    expect((await postJson(b, '/login/passkey/discover', '{"response":', token)).status).to.equal(400);
    for (const junk of [[], 'x', 7, null, { response: 'x' }, { response: { id: 7, response: null } }, { response: { id: 'AAAA', response: {} } }, { response: { id: 'AAAA', response: { authenticatorData: '!!' } } }]) {
      await postJson(b, '/login/passkey/discover/options', {}, token);
      const r = await postJson(b, '/login/passkey/discover', junk, token);
      expect(r.status, JSON.stringify(junk)).to.be.within(400, 499);
    }
  });

  it('throttles failures per client IP with the login regulator', async () => {
    await start(true, { throttle: { backoff_after: 2, max_failures_per_ip: 4 } });
    const stranger = new SoftAuthenticator();
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++) {
      const s = await begin();
      const r = await postJson(s.b, '/login/passkey/discover', { response: stranger.get(s.options, origin) }, s.token);
      statuses.push(r.status);
      if (r.status === 429) expect(r.headers.get('retry-after')).to.match(/^\d+$/);
    }
    expect(statuses).to.include(429);
    expect(statuses.every((x) => x === 401 || x === 429)).to.equal(true);
  });
});
