// A passkey answer used twice at once (issue 11 item 8): two requests sent together with one
// cookie each hold their own copy of the session with the challenge, so the challenge is
// taken in the store (one of them wins), and the signature counter is updated with a
// compare-and-set (of two answers checked against the same stored counter, one wins).
// Truly parallel requests through the real app (Promise.all), for the second step, the
// passwordless sign-in and registration.

import { expect } from 'chai';
import { Browser, type Reply } from '../../support/browser.js';
import { FakeClock } from '../../support/clock.js';
import { addUser, GOOD_PASSWORD, type TestApp } from '../../support/harness.js';
import { SoftAuthenticator } from '../../support/webauthn.js';
import { signedIn, startAccountApp } from '../account/support.js';
import type { User } from '../../../src/users/repository.js';
import { recentAudit } from '../../support/audit.js';

type Options = { challenge: string; rpId: string };

describe('passkeys: one answer, one use, also in parallel', () => {
  let app: TestApp;
  let origin: string;
  let alice: User;
  beforeEach(async () => {
    app = await startAccountApp({ two_factor: { passkey_sign_in: true } }, { clock: new FakeClock() });
    origin = new URL(app.url).origin;
    alice = await addUser(app.ctx, 'alice');
  });
  afterEach(() => app.close());

  function postJson(b: Browser, path: string, body: unknown, token: string, page: string): Promise<Reply> {
    const headers = { 'content-type': 'application/json', 'x-csrf-token': token, origin, referer: new URL(page, origin).href };
    return b.request('POST', path, { body: JSON.stringify(body), headers });
  }
  const parse = (r: Reply): Record<string, unknown> => JSON.parse(r.text) as Record<string, unknown>;

  /** Registers `auth` for alice from a signed-in browser; returns that browser. */
  async function register(auth: SoftAuthenticator): Promise<void> {
    const b = await signedIn(app, 'alice', GOOD_PASSWORD);
    const token = await b.csrf('/account/two-factor');
    const opts = await postJson(b, '/account/two-factor/passkeys/register/options', {}, token, '/account/two-factor');
    const done = await postJson(b, '/account/two-factor/passkeys/register', { name: 'key', response: auth.create(parse(opts) as never, origin) }, token, '/account/two-factor');
    expect(done.status, done.text).to.equal(201);
  }

  /** The statuses of two identical requests sent at once, sorted. */
  async function twice(send: () => Promise<Reply>): Promise<number[]> {
    const replies = await Promise.all([send(), send()]);
    return replies.map((r) => r.status).sort();
  }

  const liveSessionsOfAlice = (): number =>
    app.ctx.db.prepare('SELECT count(*) FROM sessions WHERE user_id = ? AND deleted_at IS NULL').pluck().get(alice.id) as number;

  it('the second step: one answer sent twice at once signs in once', async () => {
    // An authenticator without a counter: only the challenge can stop the second use.
    const auth = new SoftAuthenticator(false);
    await register(auth);
    app.ctx.sessions.revokeUserSessions(alice.id, 'revoked');
    const b = new Browser(app.url);
    expect((await b.login('alice', GOOD_PASSWORD)).location).to.equal('/login/second-factor');
    const token = await b.csrf('/login/second-factor');
    const options = parse(await postJson(b, '/login/passkey/options', {}, token, '/login/second-factor')) as Options;
    const answer = auth.get(options, origin);
    const statuses = await twice(() => postJson(b, '/login/passkey', { response: answer }, token, '/login/second-factor'));
    expect(statuses).to.deep.equal([200, 400]);
    expect(liveSessionsOfAlice()).to.equal(1);
    expect(recentAudit(app.ctx, 50).filter((e) => e.event === 'passkey-used')).to.have.length(1);
  });

  it('passwordless sign-in: one answer sent twice at once signs in once', async () => {
    const auth = new SoftAuthenticator(false);
    await register(auth);
    app.ctx.sessions.revokeUserSessions(alice.id, 'revoked');
    const b = new Browser(app.url);
    const token = await b.csrf('/login');
    const options = parse(await postJson(b, '/login/passkey/discover/options', {}, token, '/login')) as Options;
    const answer = auth.get(options, origin);
    const statuses = await twice(() => postJson(b, '/login/passkey/discover', { response: answer }, token, '/login'));
    expect(statuses).to.deep.equal([200, 400]);
    expect(liveSessionsOfAlice()).to.equal(1);
  });

  it('registration: one answer sent twice at once stores one passkey (and no 500)', async () => {
    const b = await signedIn(app, 'alice', GOOD_PASSWORD);
    const token = await b.csrf('/account/two-factor');
    const opts = await postJson(b, '/account/two-factor/passkeys/register/options', {}, token, '/account/two-factor');
    const response = new SoftAuthenticator().create(parse(opts) as never, origin);
    const statuses = await twice(() => postJson(b, '/account/two-factor/passkeys/register', { name: 'key', response }, token, '/account/two-factor'));
    expect(statuses).to.deep.equal([201, 400]);
    expect(app.ctx.twoFactor.passkeys.count(alice.id)).to.equal(1);
  });

  it('two answers with the same counter, checked at once against one stored counter: one is accepted', async () => {
    const auth = new SoftAuthenticator();
    await register(auth);
    const rp = { rpID: new URL(app.url).hostname, origin };
    const o1 = await app.ctx.twoFactor.passkeys.authenticationOptions(alice.id, rp);
    const o2 = await app.ctx.twoFactor.passkeys.authenticationOptions(alice.id, rp);
    const a1 = auth.get(o1 as Options, origin);
    auth.counter -= 1; // a clone: the same counter value again, for another challenge
    const a2 = auth.get(o2 as Options, origin);
    // Both read the stored counter before either writes (the signature check is asynchronous).
    const verdicts = await Promise.all([
      app.ctx.twoFactor.passkeys.authenticate(alice, a1 as never, o1.challenge, rp, null),
      app.ctx.twoFactor.passkeys.authenticate(alice, a2 as never, o2.challenge, rp, null),
    ]);
    expect(verdicts.map((v) => v.ok).sort()).to.deep.equal([false, true]);
    expect(verdicts.find((v) => !v.ok)).to.deep.include({ reason: 'counter-regression' });
    expect(app.ctx.db.prepare('SELECT counter FROM webauthn_credentials').pluck().get()).to.equal(2);
  });
});
